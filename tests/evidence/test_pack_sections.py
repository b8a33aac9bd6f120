"""Restore tests, heartbeats and retention evidence in the pack, through the installed script on
SQLite and PostgreSQL, against October 2026 of nordhafen (Berlin: [09-30 22:00Z, 10-31 23:00Z))
with pings, silences and runs worked out by hand below."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import HeartbeatPing, Incident, Procedure
from tests.reports.conftest import _run, t
from tests.support.console import opsbinder

# tms-pg-dump's October: four successful pings, one failed one, a log and a September ping
# left out; the watch's two silences (one a late ping ended, one still open) and a September one
# left out. The figures are the manager report's definition (opsbinder/reports/heartbeats.py).
PINGS = [
    ("2026-09-30T21:30", "success", None),  # September in Berlin
    ("2026-10-27T00:35", "success", None),
    ("2026-10-28T01:45", "success", None),  # the late ping that ends the first silence
    ("2026-10-29T00:40", "fail", 2),
    ("2026-10-29T00:41", "log", None),
    ("2026-10-30T00:40", "success", None),
    ("2026-10-31T00:32", "success", None),
]
SILENCES = [  # (opened, resolved, by)
    ("2026-09-20T03:00", None, None),
    ("2026-10-28T01:31", "2026-10-28T01:45", "heartbeat"),
    ("2026-10-31T12:00", None, None),
]


def _silence(n: int, opened: str, resolved: str | None, by: str | None) -> Incident:
    return Incident(
        client_id="nordhafen", procedure_id=None, dedup_key=f"heartbeat:nordhafen:tms-pg-dump:{n}",
        title="TMS nightly pg_dump: did not ping", severity="sev2",
        state="resolved" if resolved else "triggered", opened_at=t(opened),
        resolved_at=t(resolved) if resolved else None, resolved_by=by, occurrences=1,
        last_occurrence_at=t(opened), policy_snapshot={}, escalation_level=0, source="heartbeat",
        details={"state": "did not ping", "heartbeat": "tms-pg-dump", "error": f"silence {n}"},
    )  # fmt: skip


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
        for at, kind, status in PINGS:
            s.add(
                HeartbeatPing(client_id="nordhafen", heartbeat="tms-pg-dump", at=t(at), kind=kind,
                              exit_status=status, method="GET")
            )  # fmt: skip
        s.add_all(_silence(n, *row) for n, row in enumerate(SILENCES))


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
    assert (dump["pings"], dump["ok"], dump["failed"], dump["missed"], dump["late"]) == (
        5,
        4,
        1,
        2,
        1,
    )
    assert dump["last_ping"] == "2026-10-31T00:32:00+00:00" and dump["last_ping_kind"] == "success"
    assert dump["failed_pings"] == [{"at": "2026-10-29T00:40:00+00:00", "exit_status": 2}]
    assert [(m["noticed_at"], m["late_ping"], m["ended_at"]) for m in dump["silences"]] == [
        ("2026-10-28T01:31:00+00:00", True, "2026-10-28T01:45:00+00:00"),
        ("2026-10-31T12:00:00+00:00", False, None),
    ]
    veeam = beats["veeam-file-server"]
    assert (veeam["pings"], veeam["missed"], veeam["silences"], veeam["last_ping"]) == (
        0,
        0,
        [],
        None,
    )

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
    assert "5 pings, 4 ok" in html and "missed: noticed 2026-10-31T12:00:00+00:00" in html
    assert "failed: 2026-10-29T00:40:00+00:00 (exit status 2)" in html
    assert "(89.99 days old)" in html and ">NO<" in html
