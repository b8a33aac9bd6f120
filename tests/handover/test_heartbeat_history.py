"""The handover export's history shows each heartbeat like a procedure's runs: per month its
successful / failed / missed pings, the silences a late ping ended, and the last ping; written by
the installed script (which reads the real time, so the pings are placed relative to it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from opsbinder.store.db import session_scope
from opsbinder.store.models import HeartbeatPing, Incident
from tests.support.console import opsbinder

DUMP = "tms-pg-dump"


def test_the_export_history_counts_each_heartbeats_pings_like_runs(loaded: Engine, tmp_path: Path):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    month = now.replace(day=1, hour=0, minute=0)  # this month's first seconds: already past
    last_month = (month - timedelta(days=1)).replace(day=10)

    def ping(at: datetime, kind: str) -> HeartbeatPing:
        return HeartbeatPing(client_id="nordhafen", heartbeat=DUMP, at=at, kind=kind, method="GET")

    with session_scope(loaded) as s:
        s.add_all(
            [
                ping(last_month, "success"),
                ping(last_month + timedelta(days=1), "fail"),
                ping(month, "success"),
                ping(month + timedelta(seconds=1), "success"),
                ping(month + timedelta(seconds=2), "start"),
                ping(month + timedelta(seconds=3), "log"),  # says nothing of how it went
                Incident(
                    client_id="nordhafen",
                    dedup_key=f"heartbeat:nordhafen:{DUMP}",
                    title="TMS nightly pg_dump: did not ping",
                    severity="sev2",
                    state="resolved",
                    opened_at=last_month + timedelta(days=2),
                    resolved_at=last_month + timedelta(days=2, hours=1),
                    resolved_by="heartbeat",  # a late ping ended the silence
                    occurrences=1,
                    last_occurrence_at=last_month + timedelta(days=2),
                    policy_snapshot={},
                    details={"state": "did not ping", "heartbeat": DUMP},
                    escalation_level=0,
                    source="heartbeat",
                ),
            ]
        )
    out = tmp_path / "export"
    ran = opsbinder("binder", "export", "--client", "nordhafen", str(out))
    assert ran.code == 0, ran.output
    page = (out / "history.html").read_text()
    section = page[
        page.index('id="heartbeats"') : page.index("</section>", page.index('id="heartbeats"'))
    ]
    row = section[section.index("TMS nightly pg_dump") :].split("</tr>")[0]
    assert row.count('<td class="num">') == 12 + 2  # twelve months, total, late
    flat = row.replace("</span>", "")
    for marker in (
        '<span class="ok">',
        '<span class="muted">',
        '<span class="bad">',
        '<span class="warn">',
    ):
        flat = flat.replace(marker, "")
    assert "2/0/0" in flat  # this month
    assert "1/1/1" in flat  # last month: one ok, one failed, one silence
    assert "3/1/1</td>" in flat  # the total
    assert f"{month:%Y-%m-%d %H:%M} UTC (start)" in flat
    veeam = section[section.index("Veeam backup of the file server") :].split("</tr>")[0]
    assert "never" in veeam
    markdown = (out / "binder.md").read_text()
    assert "## Heartbeat pings" in markdown
    line = next(x for x in markdown.splitlines() if x.startswith(f"| {DUMP} |"))
    assert "| 1/1/1 |" in line and "| 2/0/0 |" in line and line.endswith("(start) |")
