"""Run grants: how an admin's "run now" on a locked-down client reaches the flow, and nothing else.

While a client is locked down its flows refuse to run (`procedures.execution.plan` records them
as skipped), however they were started: a schedule that slipped through, a run started by hand
on the Prefect server, a request of a door. An admin who runs a procedure through opsbinder
(CLI, console, API) is authorized first; the action then leaves a grant here, and the flow
claims it when it starts: one grant, one run, within a few minutes, atomically (the
outbox pattern: `UPDATE ... WHERE used_at IS NULL`, one row or none).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.store.models import Procedure, RunGrant

# Long enough for a flow process to start; short enough that a grant is not a standing pass.
VALID_FOR = timedelta(minutes=10)


def grant(session: Session, clock: Clock, proc: Procedure, *, actor: str) -> RunGrant:
    now = utc(clock.now())
    row = RunGrant(
        client_id=proc.client_id,
        procedure_id=proc.id,
        granted_by=actor,
        granted_at=now,
        expires_at=now + VALID_FOR,
    )
    session.add(row)
    session.flush()
    return row


def claim(session: Session, clock: Clock, proc: Procedure) -> RunGrant | None:
    """Use the oldest live grant of this procedure; None when there is none (or a racing run
    took it first)."""
    now = utc(clock.now())
    candidates = session.execute(
        select(RunGrant.id)
        .where(
            RunGrant.procedure_id == proc.id,
            RunGrant.used_at.is_(None),
            RunGrant.expires_at > now,
        )
        .order_by(RunGrant.id)
    ).scalars()
    for grant_id in list(candidates):
        taken = session.execute(
            update(RunGrant)
            .where(RunGrant.id == grant_id, RunGrant.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", taken).rowcount == 1:
            session.expire_all()
            return session.get(RunGrant, grant_id)
    return None
