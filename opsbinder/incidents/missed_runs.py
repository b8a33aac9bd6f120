"""The missed-run watch: hooks cannot report a run that never started or a process that was
SIGKILLed (Prefect leaves it RUNNING forever), so a sweeper compares the schedule with the runs.

For every active procedure, each fire time of its cron (in its zone) since the later of its
creation and `lookback` ago, and older than its grace, must be matched by a run of the store
(started or scheduled for around then). If none is:
- inside a maintenance window or on a holiday -> a `skipped` run with the reason (no incident);
- otherwise -> a `missed` run and an incident "did not run".
A store run still `running` after its timeout plus grace is closed as `crashed` (and Prefect's
zombie flow run is marked Crashed when Prefect is reachable). A Prefect run that is Late beyond
the procedure's `late_expiry` is cancelled and recorded as missed, so late runs do not pile up.

Dedup key: missed runs share the procedure's key "{client}/{procedure}" with failures. A
procedure has one open problem at a time ("it did not do its job"); the next success resolves
it either way, and occurrences count failures and misses together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import moved_runs, runs, shadow
from opsbinder.binder_store import TIMING, client_binder, procedure_config, procedure_timing
from opsbinder.calendar import moved_to, suppression
from opsbinder.clock import Clock, utc
from opsbinder.incidents import lifecycle
from opsbinder.incidents.slots import Due, RunTimes, fire_times
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure, Run


class Orchestrator(Protocol):
    """What the watch needs from Prefect (opsbinder.orchestrator.flow_runs satisfies it)."""

    def late_runs(self) -> list[tuple[Any, dict[str, object]]]: ...
    def cancel(self, flow_run_id: str, message: str) -> bool: ...
    def mark_crashed(self, flow_run_id: str, message: str) -> bool: ...


@dataclass
class WatchReport:
    missed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check_procedure(
    session: Session, clock: Clock, proc_row: Procedure, lookback: timedelta, report: WatchReport
) -> None:
    now = utc(clock.now())
    proc = procedure_config(proc_row)
    live = shadow.went_live(session, proc_row.client_id)
    due = Due.of(proc, proc_row.created_at, live, now, lookback)
    name = f"{proc_row.client_id}/{proc_row.key}"
    rows = list(
        session.execute(
            select(Run).where(Run.procedure_id == proc_row.id, Run.started_at >= due.runs_from)
        ).scalars()
    )
    for run in rows:
        if due.stuck(run):
            reason = (
                f"no end recorded within timeout {proc.timeout} + grace {proc.grace}: "
                "the process died without its hooks (killed?)"
            )
            runs.finish_run(session, clock, run.id, "crashed", reason)
            report.crashed.append(run.flow_run_id or str(run.id))
            if run.dry_run:
                continue  # a preview that died is recorded, never an incident
            _incident(session, clock, proc_row, proc.name, "crashed without a trace", run, reason)
    if not due.slots:
        return
    cb = client_binder(session, proc_row.client_id)
    shadowed = shadow.current(session, proc_row.client_id) is not None
    for slot in due.unmatched(rows, shadowed):
        local = slot.astimezone(ZoneInfo(proc.zone("UTC")))
        why = suppression(cb, proc_row.key, slot)
        if why is not None:
            skipped = runs.record_skipped(
                session,
                clock,
                client_id=proc_row.client_id,
                procedure_key=proc_row.key,
                reason=f"suppressed by {why}",
                scheduled_for=slot,
                actor="missed-run-watch",
                dry_run=shadowed,
            )
            moved_runs.mark_moved(session, skipped, moved_to(cb, proc_row.key, slot))
            report.skipped.append(f"{name}@{slot.isoformat()}")
            continue
        reason = (
            f"scheduled for {local:%Y-%m-%d %H:%M %Z}; no run started by "
            f"{(local + proc.grace):%H:%M} (grace {proc.grace})"
        )
        run = runs.record_skipped(
            session,
            clock,
            client_id=proc_row.client_id,
            procedure_key=proc_row.key,
            reason=reason,
            scheduled_for=slot,
            actor="missed-run-watch",
            outcome="missed",
            dry_run=shadowed,
        )
        report.missed.append(f"{name}@{slot.isoformat()}")
        if shadowed:
            continue  # recorded for the shadow report, never an incident: nobody is paged
        _incident(session, clock, proc_row, proc.name, "did not run", run, reason)


def _incident(
    session: Session,
    clock: Clock,
    proc_row: Procedure,
    proc_name: str,
    what: str,
    run: Run,
    reason: str,
) -> None:
    lifecycle.trigger(
        session,
        clock,
        client_id=proc_row.client_id,
        procedure_key=proc_row.key,
        dedup_key=f"{proc_row.client_id}/{proc_row.key}",
        title=f"{proc_name}: {what}",
        severity=proc_row.severity,
        details={
            "state": "Missed" if what == "did not run" else "Crashed",
            "error": reason,
            "run_id": run.id,
            "scheduled_for": run.scheduled_for.isoformat() if run.scheduled_for else None,
        },
        flow_run_id=run.flow_run_id,
        actor="missed-run-watch",
    )


def expire_late_runs(
    engine: Engine, clock: Clock, orchestrator: Orchestrator, report: WatchReport
) -> None:
    """Cancel Prefect runs that are Late beyond their procedure's late_expiry; record them missed."""
    now = utc(clock.now())
    for info, params in orchestrator.late_runs():
        client_id, key = params.get("client_id"), params.get("procedure_id")
        if not client_id or not key or info.expected_start_time is None:
            continue
        with session_scope(engine) as session:
            row = session.execute(
                select(Procedure).where(Procedure.client_id == client_id, Procedure.key == key)
            ).scalar_one_or_none()
            if row is None:
                continue
            proc = procedure_config(row)
            expected = utc(info.expected_start_time)
            if proc.late_expiry is None or now - expected < proc.late_expiry:
                continue
            reason = (
                f"late by {now - expected} (more than late_expiry {proc.late_expiry}): "
                "cancelled instead of running this late"
            )
            if not orchestrator.cancel(info.id, reason):
                continue
            shadowed = shadow.current(session, str(client_id)) is not None
            run = runs.record_skipped(
                session,
                clock,
                client_id=str(client_id),
                procedure_key=str(key),
                reason=reason,
                flow_run_id=info.id,
                scheduled_for=expected,
                actor="missed-run-watch",
                outcome="missed",
                dry_run=shadowed,
            )
            report.cancelled.append(info.id)
            if shadowed:
                continue  # the shadow's run: recorded for its report, nobody paged
            _incident(session, clock, row, proc.name, "did not run", run, reason)


PAGE = 500  # procedures read per query: bounds both the statement count and a page's memory


def _owing(
    session: Session, clock: Clock, page: list[int], lookback: timedelta, report: WatchReport
) -> list[int]:
    """The page's procedures with a stuck run or an unmatched slot, read in three statements;
    the rest need nothing this minute. Read as plain columns, and of each definition only the
    keys that say when its runs are due (`ProcedureTiming`, taken out of the document by the
    database): decoding and validating whole definitions was most of a steady pass."""
    now = utc(clock.now())
    timing = [Procedure.definition[name] for name in TIMING]
    procs = session.execute(
        select(Procedure.id, Procedure.client_id, Procedure.created_at, *timing)
        .where(Procedure.id.in_(page))
        .order_by(Procedure.id)
    ).all()
    periods = shadow.periods(session, {p.client_id for p in procs})
    seen: dict[int, list[RunTimes]] = {}
    stmt = select(Run.procedure_id, Run.outcome, Run.started_at, Run.scheduled_for, Run.dry_run)
    for row in session.execute(
        stmt.where(Run.procedure_id.in_(page), Run.started_at >= now - lookback - timedelta(days=1))
    ):
        seen.setdefault(row.procedure_id, []).append(row)
    owing = []
    # procedures sharing a cron, zone and window share their slots: computed once per page
    fire = cache(fire_times)
    for proc_row in procs:
        period = periods.get(proc_row.client_id)
        try:
            # a key the definition leaves out (none does: they are stored whole) takes its default
            parts = {k: v for k, v in zip(TIMING, proc_row[3:], strict=True) if v is not None}
            due = Due.of(
                procedure_timing(parts),
                proc_row.created_at,
                shadow.ended(period),
                now,
                lookback,
                fire,
            )
            rows = [r for r in seen.get(proc_row.id, []) if utc(r.started_at) >= due.runs_from]
            if any(due.stuck(r) for r in rows) or due.unmatched(
                rows, shadow.holding(period) is not None
            ):
                owing.append(proc_row.id)
        except Exception as exc:
            report.errors.append(f"procedure {proc_row.id}: {type(exc).__name__}: {exc}"[:300])
    return owing


def _check_one(
    engine: Engine, clock: Clock, proc_id: int, lookback: timedelta, report: WatchReport
) -> None:
    try:
        with session_scope(engine) as session:
            row = session.get(Procedure, proc_id)
            if row is not None:
                check_procedure(session, clock, row, lookback, report)
    except Exception as exc:
        report.errors.append(f"procedure {proc_id}: {type(exc).__name__}: {exc}"[:300])


def watch(
    engine: Engine,
    clock: Clock,
    *,
    orchestrator: Orchestrator | None = None,
    lookback: timedelta = timedelta(days=2),
    client_id: str | None = None,
) -> WatchReport:
    """One pass of the watch: a page of procedures at a time is read at once (a steady pass
    issues a few statements per page, not per procedure), and each procedure found owing a run
    or holding a stuck one is checked again and recorded in its own transaction."""
    report = WatchReport()
    if orchestrator is not None:
        try:
            expire_late_runs(engine, clock, orchestrator, report)
        except Exception as exc:  # Prefect away: the store-side checks still run
            report.errors.append(f"late runs: {type(exc).__name__}: {exc}"[:300])
    with session_scope(engine) as session:
        stmt = (
            select(Procedure.id)
            .join(Client, Client.id == Procedure.client_id)
            .where(
                Procedure.active.is_(True),
                Procedure.paused.is_(False),
                Client.paused.is_(False),
            )
            .order_by(Procedure.id)
        )
        if client_id:
            stmt = stmt.where(Procedure.client_id == client_id)
        ids = list(session.execute(stmt).scalars())
    for at in range(0, len(ids), PAGE):
        page = ids[at : at + PAGE]
        with session_scope(engine) as session:
            owing = _owing(session, clock, page, lookback, report)
        for proc_id in owing:
            _check_one(engine, clock, proc_id, lookback, report)
    if orchestrator is not None:
        for flow_run_id in report.crashed:
            if len(flow_run_id) == 36:
                try:
                    orchestrator.mark_crashed(flow_run_id, "killed: no end recorded")
                except Exception as exc:
                    report.errors.append(f"mark crashed {flow_run_id}: {exc}"[:300])
    return report
