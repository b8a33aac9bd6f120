"""Runs a holiday moved to the next working day (`then: next_working_day`), started when due.

The skipped run on the holiday carries `metrics["moved_to"]`; the sweep starts it once that
time has come. Claiming is a conditional UPDATE of the skipped run's reason (text compares the
same on every backend, JSON does not), so two sweeps never start one moved run twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, Run

STARTED = " (the moved run was started)"
LOOKBACK = timedelta(days=14)  # a holiday season; older moves are history, not work


@dataclass
class MovedReport:
    started: list[str] = field(default_factory=list)


def mark_moved(session: Session, run: Run, moved_to: datetime | None) -> None:
    if moved_to is not None:
        run.metrics = {**(run.metrics or {}), "moved_to": utc(moved_to).isoformat()}


def start_due(engine: Engine, clock: Clock, launch: Callable[[str, str, str], None]) -> MovedReport:
    """Start every moved run whose time has come, once: `launch(client, procedure, actor)`."""
    now, report = utc(clock.now()), MovedReport()
    with session_scope(engine) as session:
        rows = session.execute(
            select(Run, Procedure.key)
            .join(Procedure, Procedure.id == Run.procedure_id)
            .where(Run.outcome == "skipped", Run.started_at >= now - LOOKBACK)
        ).all()
        due = [
            (run.id, run.client_id, key, run.reason or "")
            for run, key in rows
            if (run.metrics or {}).get("moved_to")
            and datetime.fromisoformat(run.metrics["moved_to"]) <= now
            and not (run.reason or "").endswith(STARTED)
        ]
    for run_id, client_id, key, reason in due:
        with session_scope(engine) as session:
            claimed = session.execute(
                update(Run)
                .where(Run.id == run_id, Run.reason == reason)
                .values(reason=reason + STARTED)
            )
        if cast("CursorResult[Any]", claimed).rowcount == 1:
            launch(client_id, key, "calendar")
            report.started.append(f"{client_id}/{key}")
    return report
