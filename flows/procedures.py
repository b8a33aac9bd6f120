"""One Prefect flow per procedure kind, made from the registry; all of them wire the same steps.

load the procedure from the store → paused (a scheduled run) or the calendar says skip? record
"skipped" → start the run (with the flow-run id) → run the kind (a task with the procedure's
retries and timeout) → finish the run → markdown artifact → a failed run ends the flow run
Failed (the hooks fire) with one line.

A failed run is an expected outcome, not a crash: the flow returns a Failed state holding a
ProcedureFailed rather than raising it, and flows/expected_failures.py keeps Prefect from logging
it again with a traceback, so the log says it in one line. Unexpected errors (a bug, a store
that went away) still raise with their traceback.

Retries and timeout: they differ per procedure and the flow only learns which procedure it runs
from its parameters, so they are set on the "run procedure" task at run time
(`task.with_options`) rather than on the flow. Task retries retry exceptions (a database that
is briefly unreachable), not findings: a stale backup is not retried into freshness. What an
exception means (failed or timed out, and the reason) is decided by the core
(`opsbinder.procedures.outcome.exception_result`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from prefect import Flow, flow, runtime
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.states import Completed, Failed

from flows import expected_failures, hooks, registry
from flows.registry import FlowEntry
from opsbinder.procedures.execution import Plan
from opsbinder.procedures.outcome import (
    Outcome,
    ProcedureFailed,
    artifact_key,
    exception_result,
    run_markdown,
)
from tasks import procedures as steps

RUN_NAME = "{client_id}/{procedure_id}"
expected_failures.keep_out_of_the_log()
Result = dict[str, Any] | State[Any]


def _published(outcome: Outcome, plan: Plan) -> Outcome:
    create_markdown_artifact(
        key=artifact_key(outcome.client_id, outcome.procedure_id),
        markdown=run_markdown(outcome, name=plan.name, dry_run=outcome.dry_run),
        description=f"{outcome.name}: {outcome.outcome}",
    )
    return outcome


def _skipped(outcome: Outcome) -> State[Any]:
    return Completed(name="Skipped", message=outcome.summary, data=outcome.to_dict())


def procedure_flow(entry: FlowEntry) -> Flow[..., Result]:
    """The flow of one kind: the body every procedure flow shares, under the kind's name,
    description and hooks. It returns the outcome as a dict (flow results are data), or a
    Completed state named "Skipped"."""
    kind = entry.name

    def body(
        client_id: str,
        procedure_id: str,
        dry_run: bool = False,
        approve: bool = False,
        scheduled_for: datetime | None = None,
        actor: str = "scheduler",
    ) -> Result:
        flow_run_id = str(runtime.flow_run.id) if runtime.flow_run.id else None
        scheduled = bool(runtime.deployment.id)  # a deployment's run, not one by hand
        if scheduled_for is None and scheduled:
            scheduled_for = runtime.flow_run.scheduled_start_time
        instant = scheduled_for or datetime.now(UTC)
        plan = steps.load_procedure(client_id, procedure_id, kind, instant, scheduled)
        skip = plan.skip_reason(dry_run)
        dry_run = plan.dry_run(dry_run)  # forced while the client is a successor's shadow
        if skip:
            outcome = steps.record_skipped(plan, skip, flow_run_id, scheduled_for, dry_run, actor)
            return _skipped(_published(outcome, plan))

        run_id = steps.start_run(plan, flow_run_id, scheduled_for, dry_run, actor)
        forced: str | None = None
        try:
            result = steps.run_procedure.with_options(
                retries=plan.retries,
                retry_delay_seconds=30,
                timeout_seconds=plan.timeout_seconds,
                task_run_name=f"{plan.kind} {client_id}/{procedure_id}",
            )(plan, dry_run, approve, actor, flow_run_id)
        except Exception as exc:  # recorded and published as a failed run below
            forced, result = exception_result(exc, plan.timeout_seconds)
        finished = steps.finish_run(plan, run_id, result, forced, flow_run_id, dry_run)
        outcome = _published(finished, plan)
        if outcome.failed:
            failure = ProcedureFailed(outcome)
            return Failed(message=str(failure), data=failure)
        if outcome.outcome == "skipped":
            return _skipped(outcome)
        return outcome.to_dict()

    # Prefect derives a served deployment's entrypoint from the function's qualified name.
    body.__name__ = body.__qualname__ = kind
    body.__doc__ = entry.description
    return flow(
        name=kind,
        flow_run_name=RUN_NAME,
        description=entry.description,
        on_failure=[hooks.on_failure],
        on_crashed=[hooks.on_crashed],
        on_completion=[hooks.on_completion],
    )(body)


FLOWS: dict[str, Flow[..., Result]] = {
    kind: procedure_flow(entry) for kind, entry in registry.PROCEDURES.items()
}
# Module attributes, so that each kind's entrypoint "flows/procedures.py:<kind>" resolves.
globals().update(FLOWS)


def final_state(kind: str, **parameters: Any) -> State[Any]:
    """Run a kind's flow here (a subflow inside a flow) and hand back its final state, failed or
    not; Prefect's typing cannot see that `return_state=True` returns a State."""
    return cast(State[Any], FLOWS[kind](return_state=True, **parameters))
