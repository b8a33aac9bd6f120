"""The minutely sweep on a real Prefect API: one flow run, every step a task, in order; one
failing step does not stop the others, and the run then ends Failed naming it."""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from flows.catalog import run_now
from flows.sweep import sweep
from opsbinder import workitems
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, WorkItem
from opsbinder.sweep import STEPS

pytestmark = pytest.mark.prefect


def _task_runs(flow_run_id: Any) -> list[tuple[str, str]]:
    """(name, state) of the flow run's task runs once all are final (task states reach the API
    as events, a moment after the flow has returned)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
            )
            final = len(runs) == len(STEPS) and all(r.state and r.state.is_final() for r in runs)
            if final or time.monotonic() > deadline:
                return [(r.name, r.state_name or "") for r in runs]
            time.sleep(0.5)


def _overdue_checklist(store: Engine) -> None:
    run_now("acme", "sign-off")
    with session_scope(store) as session:
        item = session.execute(select(WorkItem)).scalar_one()
        item.due_at = datetime.now(UTC) - timedelta(minutes=1)


def test_it_runs_every_step_in_order_as_tasks_of_one_flow_run(acme: Path, store: Engine) -> None:
    _overdue_checklist(store)
    state = sweep(return_state=True)
    assert state.is_completed()
    done = state.result()
    assert (
        list(done)
        == [s.name for s in STEPS]
        == [
            "replay spool",
            "missed-run watch",
            "heartbeat watch",
            "moved runs",
            "escalation",
            "update cadence",
            "work items",
            "audit anchor",
            "status pages",
            "outbox delivery",
        ]
    )
    assert done["work items"] == {"escalated": 1}
    assert done["audit anchor"]["written"] is True  # the escalation's audit entries sealed
    assert done["status pages"] == {"rendered": [], "checked": 0, "current": 0, "failed": []}
    ran = _task_runs(state.state_details.flow_run_id)
    assert ran == [(s.name, "Completed") for s in STEPS]


def test_it_runs_the_other_steps_when_one_fails_and_ends_failed_naming_it(
    acme: Path, store: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _overdue_checklist(store)
    not_a_folder = tmp_path / "spool-is-a-file"
    not_a_folder.write_text("")
    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(not_a_folder))
    get_settings.cache_clear()

    state = sweep(return_state=True)

    assert state.is_failed()
    assert state.message.startswith(
        f"1 of {len(STEPS)} sweep steps failed: replay spool: FileExistsError"
    )
    ended = state.result(raise_on_failure=False)
    assert list(ended.failed) == ["replay spool"]
    done = ended.done
    assert "replay spool" not in done and done["work items"] == {"escalated": 1}
    assert "outbox delivery" in done  # the last step ran too
    with session_scope(store) as session:
        assert session.execute(select(Incident)).scalar_one().title == "Overdue: Test sign-off"
    ran = dict(_task_runs(state.state_details.flow_run_id))
    assert ran["replay spool"] == "Failed" and ran["outbox delivery"] == "Completed"


def test_it_sets_what_the_process_loaded_aside_from_collections_during_the_pass(
    acme: Path, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The objects the process holds when a pass starts are not walked by the pass's full
    garbage collections; afterwards the process collects them again as before."""
    seen: list[int] = []
    real = workitems.escalate_overdue

    def probe(session: Any, clock: Any) -> Any:
        seen.append(gc.get_freeze_count())
        return real(session, clock)

    monkeypatch.setattr(workitems, "escalate_overdue", probe)
    assert gc.get_freeze_count() == 0
    state = sweep(return_state=True)
    assert state.is_completed()
    assert seen and seen[0] > 50_000  # modules, models, Prefect's engine: the loaded heap
    assert gc.get_freeze_count() == 0
