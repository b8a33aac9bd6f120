"""Prefect's database trimmed to a retention, through Prefect's own API.

Every procedure run and every minute's sweep is a flow run with its task runs and logs; nothing
in Prefect's open-source server removes them, so its database grows by thousands of runs a day.
Only flow runs of opsbinder's own flows (by flow name) that have ended before the cutoff go, a
page at a time through the server's bulk delete (50 a request, its limit): the server deletes
their task runs with them (a cascading key) and queues the deletion of their logs. A run that
has not ended (scheduled, running, paused) is never touched, however old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

PAGE = 50  # the server's BULK_OPERATION_LIMIT


@dataclass
class PrefectTrim:
    cutoff: datetime
    planned: int
    deleted: int = 0
    requests: int = 0


def _filters(cutoff: datetime, flow_names: list[str]) -> tuple[Any, Any]:
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterEndTime,
    )

    # the server's end-time bound is inclusive: a run ending exactly at the cutoff stays
    ended = FlowRunFilterEndTime(before_=cutoff - timedelta(microseconds=1))
    return FlowFilter(name=FlowFilterName(any_=flow_names)), FlowRunFilter(end_time=ended)


def trim_flow_runs(
    cutoff: datetime, flow_names: list[str], *, dry_run: bool = False, limit: int | None = None
) -> PrefectTrim:
    """Delete the flow runs of `flow_names` that ended before `cutoff` (at most `limit`)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    flows, runs = _filters(cutoff, flow_names)
    with get_client(sync_client=True) as client:
        trim = PrefectTrim(cutoff, client.count_flow_runs(flow_filter=flows, flow_run_filter=runs))
        if dry_run:
            return trim
        while limit is None or trim.deleted < limit:
            page = client.read_flow_runs(
                flow_filter=flows, flow_run_filter=runs, sort=FlowRunSort.END_TIME_DESC, limit=PAGE
            )
            if not page:
                break
            ids = [run.id for run in page]
            answer = client.request(
                "POST",
                cast(Any, "/flow_runs/bulk_delete"),
                json={
                    "flow_runs": FlowRunFilter(id=FlowRunFilterId(any_=ids)).model_dump(
                        mode="json", exclude_unset=True
                    ),
                    "limit": len(ids),
                },
            )
            answer.raise_for_status()
            trim.requests += 1
            deleted = len(answer.json().get("deleted", []))
            trim.deleted += deleted
            if not deleted:
                break  # deleted meanwhile by someone else, or refused: do not spin
    return trim


def trim_prefect(now: datetime, *, dry_run: bool = False) -> PrefectTrim:
    """This install's retention (`keep_prefect_days`) over every flow of flows/registry.py."""
    from flows.registry import every_flow  # plain data: flow names, no Prefect import
    from opsbinder.settings import get_settings

    cutoff = now - timedelta(days=get_settings().keep_prefect_days)
    names = sorted({entry.name for entry in every_flow()})
    return trim_flow_runs(cutoff, names, dry_run=dry_run)


def trim_prefect_in_use(now: datetime, *, dry_run: bool = False) -> PrefectTrim | None:
    """`trim_prefect` on the server in use (PREFECT_API_URL, else the local server of a running
    `opsbinder serve`), for the command; None when there is neither: an ephemeral API started
    now would hold a database of its own, not the one that grows."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from opsbinder.orchestrator.deployments import OrchestratorUnavailable, api_url, served_api_url

    url = api_url() or served_api_url()
    if url is None:
        return None
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            return trim_prefect(now, dry_run=dry_run)
    except (OSError, RuntimeError) as exc:
        raise OrchestratorUnavailable(f"the Prefect API {url} is not reachable: {exc}") from exc
    except Exception as exc:  # httpx errors do not share a base with OSError
        if type(exc).__module__.startswith("httpx"):
            raise OrchestratorUnavailable(f"the Prefect API {url} is not reachable: {exc}") from exc
        raise
