"""The daily, weekly and monthly bundle of a client: every procedure of that cadence, now.

Each procedure runs as its own subflow (its own flow run, run record, artifact and hooks), so one
failure does not stop the others. The bundle's artifact is a table of all of them, and the
bundle ends Failed (one line, no traceback) when any of them failed. The bundle has no state hooks of its own: the procedure
subflows already open the incidents, one per procedure.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import State
from prefect.exceptions import MissingResult
from prefect.states import Failed

from flows import expected_failures
from flows.procedures import final_state
from flows.registry import BUNDLE
from opsbinder.procedures.outcome import (
    BundleFailed,
    Outcome,
    artifact_key,
    bundle_markdown,
    outcome_of_ending,
)
from tasks import procedures as steps

expected_failures.keep_out_of_the_log()


@flow(name=BUNDLE.name, flow_run_name="{client_id}/{cadence}", description=BUNDLE.description)
def bundle(
    client_id: str, cadence: str, actor: str = "scheduler"
) -> list[dict[str, Any]] | State[Any]:
    outcomes: list[Outcome] = []
    for procedure_id, kind, paused in steps.bundle_members(client_id, cadence):
        if paused:
            outcomes.append(
                Outcome(client_id, procedure_id, kind, "skipped", "paused: not run by the bundle")
            )
            continue
        state = final_state(kind, client_id=client_id, procedure_id=procedure_id, actor=actor)
        outcomes.append(outcome_of(state, client_id, procedure_id, kind))
    create_markdown_artifact(
        key=artifact_key(client_id, cadence, "bundle"),
        markdown=bundle_markdown(client_id, cadence, outcomes),
        description=f"{client_id} {cadence} bundle",
    )
    if any(o.failed for o in outcomes):  # the procedures' own runs already said why
        failure = BundleFailed(outcomes)
        return Failed(message=str(failure), data=failure)
    return [o.to_dict() for o in outcomes]


def outcome_of(state: State[Any], client_id: str, procedure_id: str, kind: str) -> Outcome:
    """A procedure subflow's final state, handed to the core to say what it means."""
    try:
        data = state.result(raise_on_failure=False)
    except MissingResult:  # the state came back from the API without its data: read the record
        recorded = steps.recorded_outcomes([str(state.state_details.flow_run_id)])
        data = recorded[0].to_dict() if recorded else None
    return outcome_of_ending(
        client_id,
        procedure_id,
        kind,
        data=data,
        state_name=state.name,
        failed=state.is_failed(),
        message=state.message,
    )
