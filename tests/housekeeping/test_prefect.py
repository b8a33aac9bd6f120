"""Housekeeping of Prefect's database on a real Prefect API: ended flow runs of opsbinder's flows
older than the retention go with their task runs and logs; newer ones, runs not ended and other
flows' runs stay; a dry run counts and deletes nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from opsbinder.orchestrator.housekeeping import trim_flow_runs, trim_prefect

pytestmark = [pytest.mark.prefect]


def _noop() -> None:  # the body of the flows whose runs are made by hand below
    return None


@pytest.fixture
def client(prefect_api: None) -> Iterator[Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        yield client


def _ended_run(client: Any, flow_name: str, *, ended: bool = True) -> UUID:
    """A flow run of `flow_name` that ran and completed now (or is still running), with a log
    line, as a real run leaves them. The server stamps the times itself, so "old" is relative:
    runs are made in order and the cutoff is put between them."""
    from prefect import flow
    from prefect.client.schemas.actions import LogCreate
    from prefect.states import Completed, Pending, Running

    run = client.create_flow_run(flow(_noop, name=flow_name), state=Pending())
    client.set_flow_run_state(run.id, Running(), force=True)
    if ended:
        client.set_flow_run_state(run.id, Completed(), force=True)
    client.create_logs(
        [
            LogCreate(
                name="test",
                level=20,
                message=f"a line of {flow_name}",
                timestamp=datetime.now(UTC),
                flow_run_id=run.id,
            )
        ]
    )
    return UUID(str(run.id))


def _end_of(client: Any, run_id: UUID) -> datetime:
    end = client.read_flow_run(run_id).end_time
    assert end is not None
    return datetime.fromisoformat(str(end)) if not isinstance(end, datetime) else end


def _alive(client: Any, ids: list[UUID]) -> set[UUID]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found = client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
    return {UUID(str(r.id)) for r in found}


def _logs_of(client: Any, run_id: UUID) -> int:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    return len(client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))))


def test_it_deletes_opsbinders_flow_runs_ended_before_the_retention_and_keeps_the_rest(
    client: Any,
) -> None:
    # names of this test's own: the session's Prefect API holds other tests' runs too
    sweep, purge = f"sweep-{uuid4().hex[:8]}", f"purge-{uuid4().hex[:8]}"
    old = [_ended_run(client, name) for name in (sweep, sweep, purge, purge)]
    others = _ended_run(client, "another-teams-flow")
    running = _ended_run(client, sweep, ended=False)
    boundary = _ended_run(client, sweep)
    cutoff = _end_of(client, boundary)  # the boundary run ended exactly at the cutoff
    newer = _ended_run(client, purge)
    assert _end_of(client, newer) > cutoff and _end_of(client, old[-1]) < cutoff
    everything = [*old, boundary, newer, running, others]
    assert _alive(client, everything) == set(everything)
    assert _logs_of(client, old[0]) == 1

    dry = trim_flow_runs(cutoff, [sweep, purge], dry_run=True)

    assert (dry.planned, dry.deleted) == (4, 0)
    assert _alive(client, everything) == set(everything)

    done = trim_flow_runs(cutoff, [sweep, purge])

    assert (done.planned, done.deleted) == (4, 4)
    assert _alive(client, everything) == {boundary, newer, running, others}
    deadline = time.monotonic() + 60  # the server deletes the logs in a background task
    while _logs_of(client, old[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _logs_of(client, old[0]) == 0
    assert _logs_of(client, newer) == 1


def test_it_takes_the_retention_and_the_flow_names_from_the_install(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBINDER_KEEP_PREFECT_DAYS", "10")
    gone = _ended_run(client, "housekeeping")
    kept = _ended_run(client, "backup_check")
    between = _end_of(client, gone) + (_end_of(client, kept) - _end_of(client, gone)) / 2

    trimmed = trim_prefect(between + timedelta(days=10))  # ten days later, by the clock

    assert trimmed.cutoff == between and trimmed.deleted >= 1
    assert gone not in _alive(client, [gone, kept]) and kept in _alive(client, [gone, kept])


def test_it_runs_as_the_daily_flow_and_fails_in_one_line_when_the_guard_refuses(
    client: Any, store: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("the flow's wiring does not depend on the store backend")
    from sqlalchemy import func, select

    from flows.housekeeping import housekeeping
    from opsbinder.store.db import session_scope
    from opsbinder.store.models import SignInFailures

    with session_scope(store) as session:  # a throttle row far older than its retention
        session.add(
            SignInFailures(
                key="addr:x", failures=1, last_failure_at=datetime(2020, 1, 1, tzinfo=UTC)
            )
        )
    _ended_run(client, "sweep")

    dry = housekeeping(dry_run=True)
    assert isinstance(dry, dict)
    assert dry["store"]["store"]["sign-in throttle"] == {
        "cutoff": dry["store"]["store"]["sign-in throttle"]["cutoff"],
        "planned": 1,
        "deleted": 0,
        "batches": 0,
    }
    assert dry["prefect"]["deleted"] == 0

    monkeypatch.setenv("OPSBINDER_HOUSEKEEPING_MAX_ROWS", "0")
    state = housekeeping(return_state=True)
    assert state.is_failed()
    assert state.message.startswith("housekeeping refused 1 table(s): sign-in throttle: planned 1")
    with session_scope(store) as session:
        assert session.execute(select(func.count()).select_from(SignInFailures)).scalar_one() == 1
