"""Run a procedure or a bundle now, in this process: what `opsbinder.orchestrator.local` calls.

The flows come from flows/procedures.py (one per kind, made from flows/registry.py). Retries and
timeouts come from each procedure at run time, so a run now behaves as a scheduled run.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.client.schemas.objects import State
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import MissingResult

from flows.bundles import bundle, outcome_of
from flows.procedures import final_state
from opsbinder.binder_store import procedure_row
from opsbinder.orchestrator.paging import every_page_sync
from opsbinder.procedures.outcome import Outcome, outcomes_of_bundle
from opsbinder.store.db import default_engine, session_scope
from tasks import procedures as steps


def run_now(
    client_id: str,
    procedure_id: str,
    *,
    actor: str = "scheduler",
    dry_run: bool = False,
    approve: bool = False,
    kind: str | None = None,
) -> Outcome:
    """Run one procedure in this process (Prefect's ephemeral API unless PREFECT_API_URL is set)."""
    if kind is None:
        with session_scope(default_engine()) as session:
            kind = procedure_row(session, client_id, procedure_id).kind
    state = final_state(
        kind,
        client_id=client_id,
        procedure_id=procedure_id,
        dry_run=dry_run,
        approve=approve,
        actor=actor,
    )
    return outcome_of(state, client_id, procedure_id, kind)


def run_bundle_now(client_id: str, cadence: str, *, actor: str = "scheduler") -> list[Outcome]:
    return bundle_outcomes(
        bundle(client_id=client_id, cadence=cadence, actor=actor, return_state=True)
    )


def bundle_outcomes(state: State[Any]) -> list[Outcome]:
    """What the bundle's procedures came to; from their records when Prefect hands the state
    back without its data (see `execution.recorded`), where paused members are not listed."""
    try:
        data = state.result(raise_on_failure=False)
    except MissingResult:  # the state came back from the API without its data: read the records
        return steps.recorded_outcomes(subflow_runs(state.state_details.flow_run_id))
    return outcomes_of_bundle(data, state_name=state.name, message=state.message)


def subflow_runs(parent: UUID | None) -> list[str]:
    """Every page of them: a bundle may hold more procedures than the server sends at once."""
    children = FlowRunFilter(
        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent] if parent else [])
    )
    with get_client(sync_client=True) as client:
        runs = every_page_sync(
            lambda offset: client.read_flow_runs(
                flow_run_filter=children, sort=FlowRunSort.ID_DESC, offset=offset
            ),
            key=lambda run: run.id,
        )
    return [str(run.id) for run in runs]
