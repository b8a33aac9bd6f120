"""How a flow runs one procedure: find it in the store, ask the calendar, call its kind.

Flows get ids only; the definition comes from the store (the binder as last loaded), so a
scheduled run never depends on a YAML folder. These functions are what the Prefect tasks wrap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from opsbinder import moved_runs, runs, shadow
from opsbinder.authorization import admit_flow_run
from opsbinder.binder_store import client_binder, procedure_row
from opsbinder.calendar import moved_to, suppression
from opsbinder.clock import Clock, FrozenClock, utc
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.errors import OpsbinderError
from opsbinder.pauses import paused_reason
from opsbinder.procedures import progress, registry
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.outcome import Outcome
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure, Run


@dataclass(frozen=True)
class Plan:
    client_id: str
    procedure_id: str
    kind: str
    name: str
    proc: ProcedureConfig
    system: Any
    suppressed: str | None  # why not now (paused, lockdown): no run at all, or None
    calendar: str | None  # the window or holiday a real run now falls in, or None
    moved_to: datetime | None  # a holiday moves the real run to this time
    retries: int
    timeout_seconds: float
    timezone: str  # the client's
    systems: dict[str, Any]  # the binder's systems by id: what a procedure names besides its own
    shadow: str | None = None  # the client is a successor's shadow: every run is a dry run

    def skip_reason(self, dry_run: bool) -> str | None:
        """Why this run is recorded as skipped, or None. A dry run asked for still previews in a
        window or on a holiday: it changes nothing, and a backlog must be previewable during a
        freeze. A shadow's forced dry run skips as the real run would, to compare like with like."""
        return self.suppressed or (None if dry_run else self.calendar)

    def dry_run(self, asked: bool) -> bool:
        """A run is a dry run when asked to be, or always while the client is shadowed."""
        return asked or self.shadow is not None


def plan(
    engine: Engine,
    *,
    client_id: str,
    procedure_id: str,
    kind: str | None,
    instant: datetime,
    scheduled: bool = False,
) -> Plan:
    """What to run; `suppressed` says why not, for a paused procedure's scheduled run (a run by
    hand still runs) or a locked-down client (any run but on an admin's grant); `calendar` names
    the maintenance window or holiday that skips any real run now."""
    with session_scope(engine) as session:
        row = procedure_row(session, client_id, procedure_id)  # NotFound with a clear message
        cb = client_binder(session, client_id)
        paused = paused_reason(session, client_id, procedure_id) if scheduled else None
        # a paused schedule is only skipped; any other run of a locked-down client is refused
        refused = paused or admit_flow_run(session, FrozenClock(utc(instant)), row)
        shadowed = shadow.note(session, client_id, instant)
    proc = cb.procedure(procedure_id)
    if kind is not None and proc.kind != kind:
        raise OpsbinderError(
            f"{client_id}/{procedure_id} is a {proc.kind} procedure; the {kind} flow cannot run it"
        )
    system = None
    if proc.system:
        try:
            system = cb.system(proc.system)
        except StopIteration:
            raise OpsbinderError(
                f"{client_id}/{procedure_id}: system {proc.system!r} is not in the binder"
            ) from None
    return Plan(
        client_id=client_id,
        procedure_id=procedure_id,
        kind=proc.kind,
        name=proc.name,
        proc=proc,
        system=system,
        suppressed=refused,
        calendar=suppression(cb, procedure_id, instant),
        moved_to=moved_to(cb, procedure_id, instant),
        retries=proc.retries,
        timeout_seconds=proc.timeout.total_seconds(),
        timezone=cb.client.timezone,
        systems={s.id: s for s in cb.systems},
        shadow=shadowed,
    )


def execute(
    engine: Engine,
    clock: Clock,
    the_plan: Plan,
    *,
    dry_run: bool,
    approve: bool,
    actor: str,
    flow_run_id: str | None,
    environ: Mapping[str, str] | None = None,
) -> ProcedureResult:
    dry_run = the_plan.dry_run(dry_run)  # whoever calls, a shadowed client's data is not touched
    ctx = ProcedureContext(
        client_id=the_plan.client_id,
        procedure_id=the_plan.procedure_id,
        clock=clock,
        store=engine,
        dry_run=dry_run,
        approve=approve,
        actor=actor,
        flow_run_id=flow_run_id,
        progress=progress.reporter(f"{the_plan.client_id}/{the_plan.procedure_id}"),
        timezone=the_plan.timezone,
        systems=the_plan.systems,
    )
    if environ is not None:
        ctx.environ = environ
    result = registry.runner(the_plan.kind)(ctx, the_plan.proc, the_plan.system)
    if dry_run and the_plan.calendar:
        result.summary = f"{result.summary} ({calendar_note(the_plan.calendar)})"
    if the_plan.shadow:
        result.summary = f"{result.summary} ({the_plan.shadow})"
    return result


def calendar_note(reason: str) -> str:
    """What a preview says when a real run now would be skipped."""
    return f"previewed in {reason}: a real run now would be skipped"


def begin(
    engine: Engine,
    clock: Clock,
    the_plan: Plan,
    *,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
    dry_run: bool,
    actor: str,
) -> int:
    with session_scope(engine) as session:
        return runs.start_run(
            session,
            clock,
            client_id=the_plan.client_id,
            procedure_key=the_plan.procedure_id,
            flow_run_id=flow_run_id,
            scheduled_for=scheduled_for,
            dry_run=dry_run,
            actor=actor,
        ).id


def finish(
    engine: Engine,
    clock: Clock,
    the_plan: Plan,
    run_id: int,
    result: ProcedureResult,
    *,
    outcome: str | None = None,
    flow_run_id: str | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Record the result; `outcome` overrides the result's status (e.g. timed_out)."""
    with session_scope(engine) as session:
        if outcome and outcome != result.status:
            run = runs.finish_run(session, clock, run_id, outcome, result.summary)
            run.metrics = {**result.metrics, "summary": result.summary}
        else:
            runs.finish_run(session, clock, run_id, result)
    final = Outcome.of(
        the_plan.client_id, the_plan.procedure_id, the_plan.kind, result,
        run_id=run_id, flow_run_id=flow_run_id, dry_run=dry_run,
    )  # fmt: skip
    if outcome:
        final.outcome = outcome
    return final


def recorded(engine: Engine, flow_run_ids: list[str]) -> list[Outcome]:
    """How runs ended as their own records say, for final states Prefect hands back without their
    data: a state change retried after its answer was lost (a busy server) is answered with the
    stored state, which carries no result when results are not persisted."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Run, Procedure.key, Procedure.kind)
            .join(Procedure, Procedure.id == Run.procedure_id)
            .where(Run.flow_run_id.in_(flow_run_ids), Run.outcome != "running")
            .order_by(Procedure.key)
        ).all()
        return [
            Outcome(
                run.client_id,
                key,
                kind,
                run.outcome,
                run.reason,
                {k: v for k, v in run.metrics.items() if k != "summary"},
                run_id=run.id,
                flow_run_id=run.flow_run_id,
                dry_run=run.dry_run,
            )
            for run, key, kind in rows
        ]


def skip(
    engine: Engine,
    clock: Clock,
    the_plan: Plan,
    *,
    reason: str,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
    dry_run: bool,
    actor: str,
) -> Outcome:
    with session_scope(engine) as session:
        run = runs.record_skipped(
            session,
            clock,
            client_id=the_plan.client_id,
            procedure_key=the_plan.procedure_id,
            reason=reason,
            flow_run_id=flow_run_id,
            scheduled_for=scheduled_for,
            dry_run=dry_run,
            actor=actor,
        )
        if reason == the_plan.calendar and (not dry_run or the_plan.shadow):
            moved_runs.mark_moved(session, run, the_plan.moved_to)
        run_id = run.id
    return Outcome(
        the_plan.client_id, the_plan.procedure_id, the_plan.kind, "skipped",
        f"skipped: {reason}", run_id=run_id, flow_run_id=flow_run_id, dry_run=dry_run,
    )  # fmt: skip


def bundle_members(engine: Engine, client_id: str, cadence: str) -> list[tuple[str, str, bool]]:
    """(procedure id, kind, paused) of every active procedure of a cadence, in key order."""
    with session_scope(engine) as session:
        client = session.get(Client, client_id)
        if client is None:
            raise OpsbinderError(
                f"no client {client_id!r} in the store; load the binder first (opsbinder load)"
            )
        rows = session.execute(
            select(Procedure.key, Procedure.kind, Procedure.paused)
            .where(
                Procedure.client_id == client_id,
                Procedure.cadence == cadence,
                Procedure.active.is_(True),
            )
            .order_by(Procedure.key)
        ).all()
        return [(r.key, r.kind, bool(r.paused or client.paused)) for r in rows]
