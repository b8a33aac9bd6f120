"""Reads and cancels of Prefect flow runs for incidents and the missed-run watch.

The only place the incident side of opsbinder talks to Prefect. Every function is best-effort
where it feeds an incident (links, log lines): a hook must never fail because Prefect is slow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


def ui_link(flow_run_id: str | None) -> str | None:
    """The flow run's page in the Prefect UI, when a UI or API URL is known."""
    if not flow_run_id:
        return None
    try:
        from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL

        base = PREFECT_UI_URL.value() or PREFECT_API_URL.value()
    except Exception:
        return None
    if not base:
        return None
    base = str(base).rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return f"{base}/runs/flow-run/{flow_run_id}"


def flow_run_page(flow_run_id: str) -> str | None:
    """The run's page in the UI `opsbinder serve` runs, when one is running here (that is the
    server the run is on); else in the configured UI or API (`ui_link`)."""
    from opsbinder.orchestrator.deployments import served_api_url

    served = served_api_url()
    if served:
        return f"{served.rstrip('/').removesuffix('/api')}/runs/flow-run/{flow_run_id}"
    return ui_link(flow_run_id)


def last_log_lines(flow_run_id: str | None, limit: int = 20) -> list[str]:
    """The newest log lines of a run already stored by the API (oldest first); [] on trouble."""
    if not flow_run_id:
        return []
    try:  # the run's own logs are batched to the API: send what is queued first (<= 5 s)
        import asyncio

        from prefect.logging.handlers import APILogWorker

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread: a blocking drain is safe
            APILogWorker.drain_all(timeout=5)
    except Exception:
        pass
    try:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
        from prefect.client.schemas.sorting import LogSort

        with get_client(sync_client=True) as client:
            logs = client.read_logs(
                LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)])),
                limit=limit,
                sort=LogSort.TIMESTAMP_DESC,
            )
    except Exception:
        return []
    return [f"{log.timestamp:%H:%M:%S} {log.message}"[:500] for log in reversed(logs)]


@dataclass(frozen=True)
class FlowRunInfo:
    id: str
    state_type: str | None
    state_name: str | None
    expected_start_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None


def read(flow_run_id: str) -> FlowRunInfo | None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return None
    state = run.state
    return FlowRunInfo(
        id=str(run.id),
        state_type=state.type.value if state else None,
        state_name=state.name if state else None,
        expected_start_time=run.expected_start_time,
        start_time=run.start_time,
        end_time=run.end_time,
    )


def cancel(flow_run_id: str, message: str) -> bool:
    """Cancel a late (scheduled) or stuck run; True when Prefect accepted it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import State, StateType
    from prefect.states import Cancelled, Cancelling

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        if run.state is not None and run.state.is_final():
            return False
        # A run that never started has no process to stop: Cancelled directly.
        scheduled = run.state is None or run.state.type in (StateType.SCHEDULED, StateType.PENDING)
        state: State[None] = (
            Cancelled(message=message) if scheduled else Cancelling(message=message)
        )
        result = client.set_flow_run_state(UUID(flow_run_id), state, force=True)
    return str(result.status.value).upper() == "ACCEPT"


def mark_crashed(flow_run_id: str, message: str) -> bool:
    """Close a zombie (RUNNING forever after a SIGKILL) so Prefect's history tells the truth."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import State
    from prefect.states import Crashed

    crashed: State[None] = Crashed(message=message)
    with get_client(sync_client=True) as client:
        result = client.set_flow_run_state(UUID(flow_run_id), crashed, force=True)
    return str(result.status.value).upper() == "ACCEPT"


def late_runs() -> list[tuple[FlowRunInfo, dict[str, object]]]:
    """Every scheduled run Prefect has marked Late, with its parameters (all pages: a burst of
    missed runs is exactly when there are more than one page of them)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStateName
    from prefect.client.schemas.sorting import FlowRunSort

    from opsbinder.orchestrator.paging import every_page_sync

    late = FlowRunFilter(state=dict(name=FlowRunFilterStateName(any_=["Late"])))
    with get_client(sync_client=True) as client:
        runs = every_page_sync(
            lambda offset: client.read_flow_runs(
                flow_run_filter=late, sort=FlowRunSort.ID_DESC, offset=offset
            ),
            key=lambda r: r.id,
        )
    return [
        (
            FlowRunInfo(
                id=str(r.id),
                state_type=r.state.type.value if r.state else None,
                state_name=r.state.name if r.state else None,
                expected_start_time=r.expected_start_time,
                start_time=r.start_time,
                end_time=r.end_time,
            ),
            dict(r.parameters or {}),
        )
        for r in runs
    ]
