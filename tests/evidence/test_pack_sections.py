"""Restore tests, heartbeats and retention evidence in the pack, through the installed script on
SQLite and PostgreSQL, against October 2026 of nordhafen (Berlin: [09-30 22:00Z, 10-31 23:00Z))
with pings and runs worked out by hand below."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import HeartbeatPing, Procedure
from tests.reports.conftest import _run, t
from tests.support.console import opsbinder

# tms-pg-dump: cron 30 1 * * * Berlin, grace 1h; after 25 October (CET) due daily at 00:30Z.
# The watch began 27 October 00:00Z, so 27..31 October are due: 5 times.
DUMP = [
    ("2026-10-27T00:00", "watch", None),
    ("2026-10-27T00:35", "success", None),  # on time
    ("2026-10-28T01:45", "success", None),  # late: after 00:30 + 1h
    ("2026-10-29T00:40", "fail", 2),  # failed; no success that day: missed
    ("2026-10-30T00:40", "success", None),  # on time
    ("2026-10-31T00:32", "success", None),  # on time
]
# veeam-file-server: every 1d, grace 4h; watched from 29 October 12:00Z. Due 30 October 12:00
# (pinged early at 11:00: on time), then a day after that ping, 31 October 11:00, answered only
# on 1 November 10:00 (late); the next due time (2 November) is past the month.
VEEAM = [
    ("2026-10-29T12:00", "watch", None),
    ("2026-10-30T11:00", "success", None),
    ("2026-11-01T10:00", "success", None),
]


def _month(store: Engine) -> None:
    with session_scope(store) as s:
        ids = {k: v for k, v in s.execute(select(Procedure.key, Procedure.id))}
        backup = s.get(Procedure, ids["check-tms-backup"])
        assert backup is not None
        definition = dict(backup.definition)
        definition["params"] = {**definition["params"], "restore_drill": True,
                                "restore_to": "tms-scratch"}  # fmt: skip
        backup.definition = definition
        drill = {"restore_to": "tms-scratch", "drill_seconds": 42.5}
        purged = {"cutoff": "2026-07-14T12:00:00+00:00", "rows_deleted": 7,
                  "oldest_remaining": "2026-07-14T12:05:00+00:00",
                  "oldest_remaining_age_days": 89.99, "older_than_cutoff_left": False}  # fmt: skip
        stuck = {"cutoff": "2024-10-18T01:00:00+00:00", "rows_archived": 5,
                 "oldest_remaining": "2024-09-01T00:00:00+00:00",
                 "oldest_remaining_age_days": 777.04, "older_than_cutoff_left": True}  # fmt: skip
        s.add_all(
            [
                _run(backup.id, "2026-10-15T04:31", "ok", metrics=drill),
                _run(backup.id, "2026-10-16T09:00", "ok", metrics=drill, dry_run=True),
                _run(ids["purge-tracking-events"], "2026-10-12T12:00", "ok", metrics=purged),
                _run(ids["archive-delivered-orders"], "2026-10-18T01:00", "failed", metrics=stuck),
            ]
        )
        for beat, pings in (("tms-pg-dump", DUMP), ("veeam-file-server", VEEAM)):
            for at, kind, status in pings:
                s.add(
                    HeartbeatPing(client_id="nordhafen", heartbeat=beat, at=t(at), kind=kind,
                                  exit_status=status, method="GET")
                )  # fmt: skip


def test_it_shows_restore_tests_heartbeats_and_retention_kept(history: Engine, tmp_path: Path):
    _month(history)
    out = tmp_path / "pack"
    ran = opsbinder(
        "evidence", "--client", "nordhafen", "--month", "2026-10", "-o", str(out), "--no-pdf",
        address_space=False,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    pack = json.loads((out / "evidence.json").read_text())

    restore = pack["restore_tests"]
    assert restore["procedures"] == ["check-tms-backup"]
    assert restore["outcomes"] == {"ok": 2, "crashed": 1, "skipped": 1}  # the dry run left out
    assert [(r["started_at"][:10], r["drill_seconds"]) for r in restore["runs"]] == [
        ("2026-10-02", None), ("2026-10-03", None), ("2026-10-04", None), ("2026-10-15", 42.5),
    ]  # fmt: skip

    beats = {h["heartbeat"]: h for h in pack["heartbeats"]}
    dump = beats["tms-pg-dump"]
    assert (dump["due"], dump["on_time"], dump["suppressed"]) == (5, 3, 0)
    assert dump["late"] == [
        {"due": "2026-10-28T00:30:00+00:00", "pinged": "2026-10-28T01:45:00+00:00"}
    ]
    assert dump["missed"] == ["2026-10-29T00:30:00+00:00"]
    assert dump["failed"] == [{"at": "2026-10-29T00:40:00+00:00", "exit_status": 2}]
    assert dump["pings"] == {"watch": 1, "success": 4, "fail": 1}
    veeam = beats["veeam-file-server"]
    assert (veeam["due"], veeam["on_time"], veeam["missed"]) == (2, 1, [])
    assert veeam["late"] == [
        {"due": "2026-10-31T11:00:00+00:00", "pinged": "2026-11-01T10:00:00+00:00"}
    ]
    assert veeam["pings"] == {"watch": 1, "success": 1}  # November's ping is not October's

    retention = {r["procedure"]: r for r in pack["retention"]}
    purge = retention["purge-tracking-events"]
    assert purge["policy"] == "90 days"
    kept = [r for r in purge["runs"] if r["nothing_older_kept"] is not None]
    assert [(r["cutoff"], r["oldest_remaining"], r["nothing_older_kept"]) for r in kept] == [
        ("2026-07-14T12:00:00+00:00", "2026-07-14T12:05:00+00:00", True)
    ]
    archive = retention["archive-delivered-orders"]
    assert archive["policy"] == "730 days"
    assert [r["nothing_older_kept"] for r in archive["runs"]] == [None, False]

    html = (out / "evidence.html").read_text()
    assert "restored in 42.5 s" in html
    assert "5 due, 3 on time" in html and "missed: due 2026-10-29T00:30:00+00:00" in html
    assert "failed: 2026-10-29T00:40:00+00:00 (exit status 2)" in html
    assert "(89.99 days old)" in html and ">NO<" in html
