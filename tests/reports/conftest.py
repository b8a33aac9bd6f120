"""A small month of history for nordhafen whose figures were worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, Run, StatusUpdate
from opsbinder.sync import sync_binder


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _run(pid: int, started: str, outcome: str, sched: str | None = None, **kw) -> Run:  # type: ignore[no-untyped-def]
    return Run(
        client_id="nordhafen",
        procedure_id=pid,
        scheduled_for=t(sched) if sched else None,
        started_at=t(started),
        ended_at=t(started),
        outcome=outcome,
        dry_run=kw.pop("dry_run", False),
        metrics=kw.pop("metrics", {}),
    )


def _incident(
    pid: int | None, sev: str, opened: str, acked: str | None, resolved: str | None, key: str
) -> Incident:
    return Incident(
        client_id="nordhafen",
        procedure_id=pid,
        dedup_key=key,
        title=key,
        severity=sev,
        state="resolved" if resolved else "acknowledged" if acked else "triggered",
        opened_at=t(opened),
        acknowledged_at=t(acked) if acked else None,
        resolved_at=t(resolved) if resolved else None,
        last_occurrence_at=t(opened),
    )


def _update(
    incident_id: int, seq: int, posted: str, nxt: str, corrects: int | None = None
) -> StatusUpdate:
    return StatusUpdate(
        incident_id=incident_id,
        seq=seq,
        posted_at=t(posted),
        author="claudia-roth",
        current_status="s",
        next_steps="n",
        business_impact="b",
        next_update_at=t(nxt),
        corrects_seq=corrects,
        prev_hash="0" * 64,
        hash=f"{seq:064d}",
    )


@pytest.fixture
def history(store: Engine, example_dir: Path, clock: FrozenClock) -> Engine:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    with session_scope(store) as s:
        ids = {k: v for k, v in s.execute(select(Procedure.key, Procedure.id))}
        purge, backup, archive = (
            ids["purge-tracking-events"],
            ids["check-tms-backup"],
            ids["archive-delivered-orders"],
        )
        # October 2026 in Europe/Berlin is [2026-09-30 22:00Z, 2026-10-31 23:00Z).
        s.add_all(
            [
                # purge, grace 45 min
                _run(purge, "2026-09-30T21:00", "ok"),  # September (Berlin 23:00)
                _run(
                    purge,
                    "2026-09-30T22:20",
                    "ok",
                    "2026-09-30T22:15",
                    metrics={"rows_deleted": 100},
                ),
                _run(
                    purge,
                    "2026-10-05T23:20",
                    "ok",
                    "2026-10-05T23:15",
                    metrics={"rows_deleted": 1000},
                ),
                _run(
                    purge,
                    "2026-10-07T00:30",
                    "ok",
                    "2026-10-06T23:15",
                    metrics={"rows_deleted": 500},
                ),  # 75 min late
                _run(purge, "2026-10-07T23:16", "failed", "2026-10-07T23:15"),
                _run(purge, "2026-10-08T23:15", "missed", "2026-10-08T23:15"),
                _run(purge, "2026-10-09T10:00", "ok", metrics={"rows_deleted": 999}, dry_run=True),
                _run(purge, "2026-10-10T12:00", "ok", metrics={"rows_deleted": 250}),  # by hand
                # backup check, grace 30 min
                _run(backup, "2026-10-02T04:30:30", "ok", "2026-10-02T04:30"),
                _run(backup, "2026-10-03T04:31", "crashed", "2026-10-03T04:30"),
                _run(backup, "2026-10-04T04:30", "skipped", "2026-10-04T04:30"),
                # archive
                _run(archive, "2026-10-11T01:00", "ok", metrics={"bytes_archived": 3_000_000_000}),
            ]
        )
        s.add_all(
            [
                _incident(
                    purge, "sev3", "2026-10-08T00:00", "2026-10-08T00:10", "2026-10-08T02:00", "a"
                ),
                _incident(backup, "sev2", "2026-10-03T05:00", "2026-10-03T05:30", None, "b"),
                _incident(backup, "sev2", "2026-09-15T05:00", "2026-09-15T05:01", None, "old"),
                _incident(None, "sev4", "2026-10-25T09:00", None, None, "manual"),
            ]
        )
        sev1 = _incident(
            backup, "sev1", "2026-10-20T10:00", "2026-10-20T10:05", "2026-10-20T14:00", "c"
        )
        s.add(sev1)
        s.flush()
        s.add_all(
            [
                _update(sev1.id, 1, "2026-10-20T10:10", "2026-10-20T11:10"),
                _update(sev1.id, 2, "2026-10-20T11:05", "2026-10-20T12:05"),  # on time
                _update(sev1.id, 3, "2026-10-20T12:20", "2026-10-20T13:20"),  # late
                _update(sev1.id, 4, "2026-10-20T12:25", "2026-10-20T13:20", corrects=3),
                _update(sev1.id, 5, "2026-10-20T13:20", "2026-10-20T14:20"),  # on the minute
            ]
        )
    return store
