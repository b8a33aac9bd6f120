"""One Prefect flow per procedure kind; all of them wire the same steps.

load the procedure from the store → calendar says skip? record "skipped" → start the run (with
the flow-run id) → run the kind (a task with the procedure's retries and timeout) → finish the
run → markdown artifact → a failed result raises, so the flow run is Failed and the hooks fire.

Retries and timeout: they differ per procedure and the flow only learns which procedure it runs
from its parameters, so they are set on the "run procedure" task at run time
(`task.with_options`) rather than on the flow. Task retries retry exceptions (a database that
is briefly unreachable), not findings: a stale backup is not retried into freshness. The
timeout ends the task and the run is recorded as timed_out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, runtime
from prefect.artifacts import create_markdown_artifact
from prefect.states import Completed, State

from flows import hooks
from opsbinder.procedures.execution import Plan
from opsbinder.procedures.outcome import Outcome, ProcedureFailed, artifact_key, run_markdown
from opsbinder.procedures.result import ProcedureResult
from tasks import procedures as steps

# The state hooks of flows/hooks.py (issue 4): they mark crashed runs and open/resolve incidents.
HOOKS = {
    "on_failure": [hooks.on_failure],
    "on_crashed": [hooks.on_crashed],
    "on_completion": [hooks.on_completion],
}
RUN_NAME = "{client_id}/{procedure_id}"


def run_procedure(
    kind: str | None,
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """The body every procedure flow shares; returns the outcome as a dict (flow results are
    data), or a Completed state named "Skipped"."""
    flow_run_id = str(runtime.flow_run.id) if runtime.flow_run.id else None
    if scheduled_for is None and runtime.deployment.id:
        scheduled_for = runtime.flow_run.scheduled_start_time
    instant = scheduled_for or datetime.now(UTC)
    plan = steps.load_procedure(client_id, procedure_id, kind, instant)
    if plan.suppressed:
        outcome = steps.record_skipped(
            plan, plan.suppressed, flow_run_id, scheduled_for, dry_run, actor
        )
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
    except Exception as exc:  # recorded, published, then raised again below
        forced = "timed_out" if isinstance(exc, TimeoutError) else "failed"
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if forced == "timed_out":
            message = f"timed out after {plan.timeout_seconds:g} s ({message})"
        result = ProcedureResult("failed", message, {}, [message])
    outcome = _published(steps.finish_run(plan, run_id, result, forced, flow_run_id, dry_run), plan)
    if outcome.failed:
        raise ProcedureFailed(outcome)
    if outcome.outcome == "skipped":
        return _skipped(outcome)
    return outcome.to_dict()


def _published(outcome: Outcome, plan: Plan) -> Outcome:
    create_markdown_artifact(
        key=artifact_key(outcome.client_id, outcome.procedure_id),
        markdown=run_markdown(outcome, name=plan.name, dry_run=outcome.dry_run),
        description=f"{outcome.name}: {outcome.outcome}",
    )
    return outcome


def _skipped(outcome: Outcome) -> State:
    return Completed(name="Skipped", message=outcome.summary, data=outcome.to_dict())


@flow(name="purge", flow_run_name=RUN_NAME, **HOOKS)
def purge(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """Delete a client table's rows older than the retention, in short batches."""
    return run_procedure("purge", client_id, procedure_id, dry_run, approve, scheduled_for, actor)


@flow(name="archive", flow_run_name=RUN_NAME, **HOOKS)
def archive(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """Move old rows to verified archive files, then delete them from the source."""
    return run_procedure("archive", client_id, procedure_id, dry_run, approve, scheduled_for, actor)


@flow(name="backup_check", flow_run_name=RUN_NAME, **HOOKS)
def backup_check(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """Check the newest backup: age, size, checksum, pg_restore, restore drill."""
    return run_procedure(
        "backup_check", client_id, procedure_id, dry_run, approve, scheduled_for, actor
    )


@flow(name="disk_check", flow_run_name=RUN_NAME, **HOOKS)
def disk_check(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """Filesystem and database usage against thresholds, with a days-until-full forecast."""
    return run_procedure(
        "disk_check", client_id, procedure_id, dry_run, approve, scheduled_for, actor
    )


@flow(name="update_reminder", flow_run_name=RUN_NAME, **HOOKS)
def update_reminder(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """Reminders for end of support and patches from the software inventory."""
    return run_procedure(
        "update_reminder", client_id, procedure_id, dry_run, approve, scheduled_for, actor
    )


@flow(name="manual", flow_run_name=RUN_NAME, **HOOKS)
def manual(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """A due checklist for a person to sign off with `opsbinder done`."""
    return run_procedure("manual", client_id, procedure_id, dry_run, approve, scheduled_for, actor)


@flow(name="custom", flow_run_name=RUN_NAME, **HOOKS)
def custom(
    client_id: str,
    procedure_id: str,
    dry_run: bool = False,
    approve: bool = False,
    scheduled_for: datetime | None = None,
    actor: str = "scheduler",
) -> dict | State:
    """A Python entrypoint named in the binder."""
    return run_procedure("custom", client_id, procedure_id, dry_run, approve, scheduled_for, actor)
