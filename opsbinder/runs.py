"""Recording runs: every execution (or recorded non-execution) of a procedure is one row.

A flow starts its row at its beginning, keyed by its Prefect flow-run id, and finishes it at its
end; the state hooks find the same row by that id to mark crashes and time-outs. Starting is
idempotent per flow-run id because a retried flow run starts again under the same id.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit, redaction
from opsbinder.binder_store import procedure_row
from opsbinder.clock import Clock, utc
from opsbinder.errors import NotFound
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store import stored_pages
from opsbinder.store.models import Procedure, Run

OUTCOMES = ("running", "ok", "failed", "crashed", "timed_out", "cancelled", "skipped", "missed")
FINAL = frozenset(OUTCOMES) - {"running"}


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics go into a JSON column: anything a kind returns is reduced to JSON types."""
    plain: dict[str, Any] = json.loads(json.dumps(metrics, default=str))
    return plain


def _by_flow_run(session: Session, flow_run_id: str | None) -> Run | None:
    if not flow_run_id:
        return None
    return session.execute(select(Run).where(Run.flow_run_id == flow_run_id)).scalar_one_or_none()


def _row_for(
    session: Session,
    client_id: str,
    procedure_key: str,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
) -> Run:
    """This flow run's row: the one a retry of it already has, else a new one."""
    proc = procedure_row(session, client_id, procedure_key)  # NotFound for an unknown one
    run = _by_flow_run(session, flow_run_id)
    if run is None:
        run = Run(client_id=client_id, procedure_id=proc.id, flow_run_id=flow_run_id)
        session.add(run)
    run.scheduled_for = utc(scheduled_for) if scheduled_for else None
    return run


def start_run(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    procedure_key: str,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
    dry_run: bool = False,
    actor: str = "scheduler",
) -> Run:
    """A run in state `running`; a retry of the same flow run reuses (and resets) its row."""
    now = clock.now()
    run = _row_for(session, client_id, procedure_key, flow_run_id, scheduled_for)
    if run.outcome in FINAL and not run.dry_run:  # a retry takes a shown outcome back
        stored_pages.mark(session, clock, client_id)
    run.started_at, run.ended_at = now, None
    run.outcome, run.reason, run.metrics = "running", "", {}
    run.dry_run, run.actor = dry_run, actor
    session.flush()
    if actor != "scheduler":
        # A person asked for this run: who ran what, and whether as a dry run, is audit matter.
        audit.record(
            session,
            clock,
            actor=actor,
            action="run.requested",
            object_type="procedure",
            object_id=f"{client_id}/{procedure_key}",
            client_id=client_id,
            details={"run_id": run.id, "dry_run": dry_run, "flow_run_id": flow_run_id},
        )
    return run


def finish_run(
    session: Session,
    clock: Clock,
    run_id: int,
    result: ProcedureResult | str,
    reason: str = "",
) -> Run:
    """Set the final outcome: from a procedure's result, or an outcome word (crashed, ...)."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(f"no run {run_id} in the store")
    outcome: str
    if isinstance(result, ProcedureResult):
        outcome = result.status
        reason = reason or "; ".join(result.findings) or result.summary
        run.metrics = _plain({**result.metrics, "summary": result.summary})
    else:
        outcome = result
    if outcome not in FINAL:
        raise ValueError(
            f"not a final run outcome: {outcome!r} (one of {', '.join(sorted(FINAL))})"
        )
    run.outcome, run.reason, run.ended_at = outcome, redaction.redact(session, reason), clock.now()
    if not run.dry_run:  # the page shows each procedure's last real outcome
        stored_pages.mark(session, clock, run.client_id)
    session.flush()
    return run


def finish_flow_run(
    session: Session, clock: Clock, flow_run_id: str, outcome: str, reason: str = ""
) -> Run | None:
    """For state hooks: mark the run of a flow run (crashed, timed_out, ...) if it exists and
    has not been finished by the flow itself."""
    run = _by_flow_run(session, flow_run_id)
    if run is None:
        return None
    # A flow that times out has usually recorded "failed" on its way out; the hook knows better.
    overridable = run.outcome == "running" or (
        run.outcome == "failed" and outcome in ("crashed", "timed_out", "cancelled")
    )
    return finish_run(session, clock, run.id, outcome, reason) if overridable else run


def record_skipped(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    procedure_key: str,
    reason: str,
    flow_run_id: str | None = None,
    scheduled_for: datetime | None = None,
    dry_run: bool = False,
    actor: str = "scheduler",
    outcome: str = "skipped",
) -> Run:
    """A run that did not execute, with why (maintenance window, holiday, lock held, missed)."""
    if outcome not in ("skipped", "missed"):
        raise ValueError(f"record_skipped records skipped or missed runs, not {outcome!r}")
    now = clock.now()
    run = _row_for(session, client_id, procedure_key, flow_run_id, scheduled_for)
    run.started_at = run.ended_at = now
    run.outcome, run.reason, run.metrics = outcome, redaction.redact(session, reason), {}
    run.dry_run, run.actor = dry_run, actor
    if not dry_run:
        stored_pages.mark(session, clock, client_id)
    session.flush()
    return run


def last_runs(
    session: Session,
    client_id: str,
    procedure_key: str,
    n: int = 10,
    *,
    outcomes: tuple[str, ...] | None = None,
) -> list[Run]:
    """The newest `n` runs of a procedure, newest first (optionally only some outcomes)."""
    query = (
        select(Run)
        .join(Procedure, Procedure.id == Run.procedure_id)
        .where(Procedure.client_id == client_id, Procedure.key == procedure_key)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(n)
    )
    if outcomes:
        query = query.where(Run.outcome.in_(outcomes))
    return list(session.execute(query).scalars())


def runs_by_flow_run(session: Session, flow_run_ids: list[str]) -> dict[str, Run]:
    if not flow_run_ids:
        return {}
    rows = session.execute(select(Run).where(Run.flow_run_id.in_(flow_run_ids))).scalars()
    return {r.flow_run_id: r for r in rows if r.flow_run_id}
