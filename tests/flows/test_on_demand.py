"""An on-demand procedure (no schedule) runs when someone runs it, and is never missed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from flows import procedures
from opsbinder.clock import FrozenClock, SystemClock
from opsbinder.incidents import missed_runs
from opsbinder.store.db import session_scope
from opsbinder.store.models import Run, WorkItem
from tests.procedures.binders import client_binder, load, procedure

pytestmark = pytest.mark.prefect


def test_it_runs_an_on_demand_checklist_by_hand_and_never_misses_it(
    store: Engine, prefect_api: None
) -> None:
    lockdown = procedure("lockdown", "manual", runbook={"steps": ["revoke keys"]})
    del lockdown["schedule"]
    daily = procedure("daily", "manual")  # scheduled: proves the watch would see a missed run
    load(store, SystemClock(), client_binder([], [{**lockdown, "on_demand": True}, daily]))

    state = procedures.manual(client_id="acme", procedure_id="lockdown", return_state=True)

    assert state.is_completed() and state.name != "Skipped"
    with session_scope(store) as session:
        run = session.execute(select(Run)).scalar_one()  # before the watch ran
        assert (run.outcome, run.scheduled_for) == ("ok", None)
        assert session.execute(select(WorkItem)).scalar_one().kind == "checklist"
    later = FrozenClock(SystemClock().now() + timedelta(days=2))
    missed = missed_runs.watch(store, later).missed
    assert [m for m in missed if m.startswith("acme/daily@")]
    assert not [m for m in missed if m.startswith("acme/lockdown")]
