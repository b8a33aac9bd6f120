"""Prefect's side of the run history: flow runs of opsbinder's deployments, in a plain shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
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
    """The newest `limit` flow runs of opsbinder's deployments whose expected start lies in
    [since, until], newest first.

    The server returns one page at a time and its newest-first order is not total (many
    procedures share a cron minute), so offsets could skip runs: each page's oldest instant is
    read whole, ordered by id, and the next page starts just before it.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    from opsbinder.orchestrator.paging import every_page_sync

    ours = DeploymentFilter(tags=DeploymentFilterTags(all_=[OURS, *tags]))
    found: list[Any] = []
    before = until
    with get_client(sync_client=True) as client:

        def read(after: datetime | None, upto: datetime | None, sort: Any, offset: int) -> Any:
            return client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(after_=after, before_=upto)
                ),
                deployment_filter=ours,
                sort=sort,
                offset=offset,
            )

        while len(found) < limit:
            page = read(since, before, FlowRunSort.EXPECTED_START_TIME_DESC, 0)
            times = [r.expected_start_time for r in page if r.expected_start_time is not None]
            if not times:
                break
            oldest = min(times)
            found.extend(
                r for r in page if r.expected_start_time and r.expected_start_time > oldest
            )
            found.extend(
                every_page_sync(
                    partial(read, oldest, oldest, FlowRunSort.ID_DESC), key=lambda r: r.id
                )
            )
            before = oldest - timedelta(microseconds=1)
    return [_plain(r) for r in found[:limit]]
