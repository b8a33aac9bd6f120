"""Prefect tasks around one procedure run: each a thin call into opsbinder.procedures.execution.

Caching is off: every input is an id or an in-process object and every call must really run.
`run_procedure` gets its retries and timeout from the procedure (`with_options` in the flow),
so they apply the same under a deployment, a bundle and `opsbinder run`.
"""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NONE

from opsbinder.clock import SystemClock
from opsbinder.procedures import execution
from opsbinder.procedures.execution import Plan
from opsbinder.procedures.outcome import Outcome
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import default_engine


@task(name="load procedure", cache_policy=NONE)
def load_procedure(
    client_id: str, procedure_id: str, kind: str | None, instant: datetime, scheduled: bool
) -> Plan:
    return execution.plan(
        default_engine(),
        client_id=client_id,
        procedure_id=procedure_id,
        kind=kind,
        instant=instant,
        scheduled=scheduled,
    )


@task(name="run procedure", cache_policy=NONE)
def run_procedure(
    plan: Plan, dry_run: bool, approve: bool, actor: str, flow_run_id: str | None
) -> ProcedureResult:
    return execution.execute(
        default_engine(),
        SystemClock(),
        plan,
        dry_run=dry_run,
        approve=approve,
        actor=actor,
        flow_run_id=flow_run_id,
    )


@task(name="start run", cache_policy=NONE)
def start_run(
    plan: Plan,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
    dry_run: bool,
    actor: str,
) -> int:
    return execution.begin(
        default_engine(),
        SystemClock(),
        plan,
        flow_run_id=flow_run_id,
        scheduled_for=scheduled_for,
        dry_run=dry_run,
        actor=actor,
    )


@task(name="finish run", cache_policy=NONE)
def finish_run(
    plan: Plan,
    run_id: int,
    result: ProcedureResult,
    outcome: str | None,
    flow_run_id: str | None,
    dry_run: bool,
) -> Outcome:
    return execution.finish(
        default_engine(),
        SystemClock(),
        plan,
        run_id,
        result,
        outcome=outcome,
        flow_run_id=flow_run_id,
        dry_run=dry_run,
    )


@task(name="record skipped run", cache_policy=NONE)
def record_skipped(
    plan: Plan,
    reason: str,
    flow_run_id: str | None,
    scheduled_for: datetime | None,
    dry_run: bool,
    actor: str,
) -> Outcome:
    return execution.skip(
        default_engine(),
        SystemClock(),
        plan,
        reason=reason,
        flow_run_id=flow_run_id,
        scheduled_for=scheduled_for,
        dry_run=dry_run,
        actor=actor,
    )


@task(name="bundle members", cache_policy=NONE)
def bundle_members(client_id: str, cadence: str) -> list[tuple[str, str, bool]]:
    return execution.bundle_members(default_engine(), client_id, cadence)


def recorded_outcomes(flow_run_ids: list[str]) -> list[Outcome]:
    """Not a task: the caller reads finished runs' records, nothing to orchestrate."""
    return execution.recorded(default_engine(), flow_run_ids)
