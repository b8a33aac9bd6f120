"""Prefect's side of the run history: flow runs of opsbinder's deployments, in a plain shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsbinder.orchestrator.specs import OURS


@dataclass(frozen=True)
class PrefectRun:
    id: str
    client_id: str | None
    procedure_key: str | None
    deployment_tags: tuple[str, ...]
    state_type: str | None
    state_name: str | None
    expected_start_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    message: str


def _plain(run: Any) -> PrefectRun:
    params = dict(run.parameters or {})
    state = run.state
    return PrefectRun(
        id=str(run.id),
        client_id=params.get("client_id"),
        procedure_key=params.get("procedure_id"),
        deployment_tags=tuple(run.tags or ()),
        state_type=state.type.value if state else None,
        state_name=state.name if state else None,
        expected_start_time=run.expected_start_time,
        start_time=run.start_time,
        end_time=run.end_time,
        message=(state.message or "") if state else "",
    )


def read_runs(
    *, since: datetime | None, until: datetime | None, tags: list[str], limit: int = 1000
) -> list[PrefectRun]:
    """Flow runs of opsbinder's deployments whose expected start lies in [since, until)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    window = FlowRunFilterExpectedStartTime(after_=since, before_=until)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(expected_start_time=window),
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[OURS, *tags])),
            sort=FlowRunSort.EXPECTED_START_TIME_DESC,
            limit=limit,
        )
    return [_plain(r) for r in runs]
