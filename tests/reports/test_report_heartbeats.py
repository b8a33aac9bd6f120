"""Heartbeat pings in the manager's report, like runs: per heartbeat its pings, failures, silences
(missed), silences a late ping ended, and the last ping; worked out by hand for October 2026
(Europe/Berlin: [2026-09-30 22:00Z, 2026-10-31 23:00Z)), read through the installed script."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from opsbinder.store.db import session_scope
from opsbinder.store.models import HeartbeatPing, Incident
from tests.reports.conftest import t
from tests.support.console import opsbinder

DUMP = "tms-pg-dump"


def ping(at: str, kind: str, beat: str = DUMP, client: str = "nordhafen") -> HeartbeatPing:
    return HeartbeatPing(client_id=client, heartbeat=beat, at=t(at), kind=kind, method="GET")


def silence(opened: str, resolved: str | None, by: str | None, state: str, n: int) -> Incident:
    return Incident(
        client_id="nordhafen",
        procedure_id=None,
        dedup_key=f"heartbeat:nordhafen:{DUMP}:{n}",
        title="TMS nightly pg_dump: " + state,
        severity="sev2",
        state="resolved" if resolved else "triggered",
        opened_at=t(opened),
        resolved_at=t(resolved) if resolved else None,
        resolved_by=by,
        occurrences=1,
        last_occurrence_at=t(opened),
        policy_snapshot={},
        details={"state": state, "heartbeat": DUMP},
        escalation_level=0,
        source="heartbeat",
    )


def test_it_counts_pings_failures_silences_and_the_last_ping(history: Engine, tmp_path: Path):
    with session_scope(history) as s:
        s.add_all(
            [
                ping("2026-09-30T21:30", "success"),  # September in Berlin
                ping("2026-09-30T22:30", "success"),
                ping("2026-10-02T01:35", "success"),
                ping("2026-10-04T01:35", "fail"),
                ping("2026-10-04T01:36", "log"),  # a log says nothing of the outcome
                ping("2026-10-31T22:30", "start"),  # the last ping of the month: a start
                ping("2026-10-31T23:30", "success"),  # November already
                # the failed ping's incident: a failure, not a silence
                silence("2026-10-04T01:35", "2026-10-05T01:35", "heartbeat", "failed", 1),
                # two silences: one a late ping ended, one a person closed
                silence("2026-10-10T03:00", "2026-10-10T05:10", "heartbeat", "did not ping", 2),
                silence("2026-10-20T03:00", "2026-10-20T09:00", "lena", "did not ping", 3),
                silence("2026-09-20T03:00", None, None, "did not ping", 4),  # September
            ]
        )
    ran = opsbinder("report", "--client", "nordhafen", "--month", "2026-10", "--format", "json")
    assert ran.code == 0, ran.output
    lines = {h["heartbeat"]: h for h in json.loads(ran.out)["heartbeats"]}
    assert set(lines) == {DUMP, "veeam-file-server"}  # the binder's two
    dump = lines[DUMP]
    assert (dump["pings"], dump["ok"], dump["failed"]) == (3, 2, 1)
    assert (dump["missed"], dump["late"]) == (2, 1)
    assert dump["last_ping"].startswith("2026-10-31T22:30") and dump["last_ping_kind"] == "start"
    assert dump["name"].startswith("TMS nightly pg_dump")
    veeam = lines["veeam-file-server"]
    assert (veeam["pings"], veeam["missed"], veeam["last_ping"]) == (0, 0, None)

    page = tmp_path / "r.html"
    ran = opsbinder("report", "--client", "nordhafen", "--month", "2026-10", "-o", str(page))
    assert ran.code == 0, ran.output
    html = page.read_text()
    section = html[html.index('id="heartbeats"') :]
    assert "TMS nightly pg_dump" in section and "2026-10-31 22:30 UTC (start)" in section
    assert "<td>3</td><td>1</td><td>2</td><td>1</td>" in section
