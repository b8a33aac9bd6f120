"""Flow-run reads page past the API's 200 rows: the missed-run watch's late runs and the run
history, with every run at the same instant (their newest-first order is not total)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsbinder.orchestrator import flow_history, flow_runs

pytestmark = [pytest.mark.prefect, pytest.mark.slow]
RUNS = 230


@pytest.fixture(scope="module")
def late_runs_of_ours(prefect_api: None) -> tuple[datetime, set[str]]:
    """RUNS runs of one opsbinder deployment, all Late and expected at the same instant."""
    from prefect import get_client
    from prefect.states import Late
    from prefect.utilities.asyncutils import run_coro_as_sync

    at = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

    async def go() -> set[str]:
        async with get_client() as client:
            flow_id = await client.create_flow_from_name("paged-reads")
            dep = await client.create_deployment(
                flow_id=flow_id, name="paged", tags=["opsbinder", "client:paging"]
            )
            ids = set()
            for _ in range(RUNS):
                run = await client.create_flow_run_from_deployment(
                    dep, state=Late(scheduled_time=at), parameters={"client_id": "paging"}
                )
                ids.add(str(run.id))
            return ids

    return at, run_coro_as_sync(go())


def test_it_reads_every_late_run(late_runs_of_ours: tuple[datetime, set[str]]) -> None:
    _, ids = late_runs_of_ours
    found = [info.id for info, _ in flow_runs.late_runs()]
    assert len(found) == len(set(found))  # none twice
    assert ids <= set(found)  # none missed beyond the first page


def test_it_reads_the_history_past_a_page_of_runs_at_one_instant(
    late_runs_of_ours: tuple[datetime, set[str]],
) -> None:
    at, ids = late_runs_of_ours
    window = dict(since=at - timedelta(hours=1), until=at + timedelta(hours=1))
    every = flow_history.read_runs(**window, tags=["client:paging"], limit=1000)
    assert [r.id for r in every] and {r.id for r in every} == ids and len(every) == RUNS
    newest = flow_history.read_runs(**window, tags=["client:paging"], limit=210)
    assert len(newest) == 210 and len({r.id for r in newest}) == 210
