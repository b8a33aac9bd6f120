"""Run now in a process of its own (the console's and the API's "run now"): the run is recorded
in the store while the caller has long returned."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.orchestrator.local import launch_procedure
from opsbinder.store.db import session_scope
from opsbinder.store.models import Run
from opsbinder.sync import sync_binder

pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def test_it_launches_a_run_that_records_itself_and_returns_at_once(
    store: Engine, backend: str, example_dir: Path, clock: FrozenClock
) -> None:
    if backend != "sqlite":
        pytest.skip("the launch does not depend on the store backend")
    with session_scope(store) as session:
        sync_binder(session, load_binder(example_dir), clock)

    started = time.monotonic()
    launch_procedure("nordhafen", "monthly-restore-test", "lena")
    assert time.monotonic() - started < 5  # the caller (a web worker) is not held

    deadline = time.monotonic() + 300  # the process starts Prefect's API of its own first
    run = None
    while run is None or run.outcome == "running":
        assert time.monotonic() < deadline, "no run recorded by the launched process"
        time.sleep(2)
        with session_scope(store) as session:
            run = session.execute(select(Run).where(Run.actor == "lena")).scalar_one_or_none()
            if run is not None:
                session.expunge(run)
    assert run.outcome == "ok" and run.flow_run_id
