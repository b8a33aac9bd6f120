"""The daily, weekly and monthly bundle of a client: every procedure of that cadence, now.

Each procedure runs as its own subflow (its own flow run, run record, artifact and hooks), so one
failure does not stop the others. The bundle's artifact is a table of all of them, and the
bundle fails when any of them failed. The bundle has no state hooks of its own: the procedure
subflows already open the incidents, one per procedure.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.states import State

from opsbinder.procedures.outcome import (
    BundleFailed,
    Outcome,
    ProcedureFailed,
    artifact_key,
    bundle_markdown,
)
from tasks import procedures as steps


@flow(name="bundle", flow_run_name="{client_id}/{cadence}")
def bundle(client_id: str, cadence: str, actor: str = "scheduler") -> list[dict]:
    from flows.catalog import FLOWS

    outcomes: list[Outcome] = []
    for procedure_id, kind, paused in steps.bundle_members(client_id, cadence):
        if paused:
            outcomes.append(
                Outcome(client_id, procedure_id, kind, "skipped", "paused: not run by the bundle")
            )
            continue
        state = FLOWS[kind](
            client_id=client_id, procedure_id=procedure_id, actor=actor, return_state=True
        )
        outcomes.append(outcome_of(state, client_id, procedure_id, kind))
    create_markdown_artifact(
        key=artifact_key(client_id, cadence, "bundle"),
        markdown=bundle_markdown(client_id, cadence, outcomes),
        description=f"{client_id} {cadence} bundle",
    )
    if any(o.failed for o in outcomes):
        raise BundleFailed(outcomes)
    return [o.to_dict() for o in outcomes]


def outcome_of(state: State, client_id: str, procedure_id: str, kind: str) -> Outcome:
    """What a procedure subflow's final state says, whatever way it ended."""
    data = state.result(raise_on_failure=False)
    if isinstance(data, dict):
        return Outcome.from_dict(data)
    if isinstance(data, ProcedureFailed):
        return data.outcome
    word = {"Crashed": "crashed", "TimedOut": "timed_out", "Cancelled": "cancelled"}
    outcome = word.get(state.name or "", "failed" if state.is_failed() else "ok")
    message = str(data) if isinstance(data, BaseException) else (state.message or state.name)
    return Outcome(client_id, procedure_id, kind, outcome, str(message))
