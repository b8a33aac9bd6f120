"""Recording runs in the store, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from opsbinder import runs
from opsbinder.clock import FrozenClock
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Run
from tests.procedures.binders import client_binder, load, procedure


@pytest.fixture
def loaded(store: Engine, clock: FrozenClock) -> Engine:
    load(store, clock, client_binder([], [procedure("sign-off", "manual")]))
    return store


def test_it_starts_and_finishes_a_run_with_metrics(loaded: Engine, clock: FrozenClock) -> None:
    with session_scope(loaded) as session:
        run = runs.start_run(
            session, clock, client_id="acme", procedure_key="sign-off",
            flow_run_id="f-1", scheduled_for=clock.now(), dry_run=True, actor="scheduler",
        )  # fmt: skip
        assert run.outcome == "running"
        clock.advance(timedelta(seconds=30))
        result = ProcedureResult("failed", "backup stale", {"age_hours": 50}, ["stale", "small"])
        runs.finish_run(session, clock, run.id, result)
    with session_scope(loaded) as session:
        stored = session.execute(select(Run)).scalar_one()
        assert (stored.outcome, stored.reason, stored.dry_run) == ("failed", "stale; small", True)
        assert stored.metrics == {"age_hours": 50, "summary": "backup stale"}
        assert stored.flow_run_id == "f-1"


def test_it_reuses_the_row_when_a_flow_run_retries(loaded: Engine, clock: FrozenClock) -> None:
    for _ in range(2):
        with session_scope(loaded) as session:
            runs.start_run(
                session, clock, client_id="acme", procedure_key="sign-off",
                flow_run_id="f-1", scheduled_for=None, actor="scheduler",
            )  # fmt: skip
    with session_scope(loaded) as session:
        assert len(session.execute(select(Run)).scalars().all()) == 1


def test_it_audits_runs_a_person_asked_for(loaded: Engine, clock: FrozenClock) -> None:
    with session_scope(loaded) as session:
        runs.start_run(
            session, clock, client_id="acme", procedure_key="sign-off",
            flow_run_id=None, scheduled_for=None, actor="lena",
        )  # fmt: skip
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "run.requested")
        ).scalar_one()
        assert (entry.actor, entry.object_id) == ("lena", "acme/sign-off")


def test_it_records_skipped_runs_and_lists_the_newest_first(
    loaded: Engine, clock: FrozenClock
) -> None:
    with session_scope(loaded) as session:
        runs.record_skipped(
            session, clock, client_id="acme", procedure_key="sign-off",
            reason="maintenance window 'upgrade'", flow_run_id="f-1",
        )  # fmt: skip
        clock.advance(timedelta(hours=1))
        run = runs.start_run(
            session, clock, client_id="acme", procedure_key="sign-off",
            flow_run_id="f-2", scheduled_for=None,
        )  # fmt: skip
        runs.finish_run(session, clock, run.id, "crashed", "SIGTERM")
    with session_scope(loaded) as session:
        newest = runs.last_runs(session, "acme", "sign-off", 5)
        assert [(r.outcome, r.reason) for r in newest] == [
            ("crashed", "SIGTERM"),
            ("skipped", "maintenance window 'upgrade'"),
        ]
        assert [
            r.outcome for r in runs.last_runs(session, "acme", "sign-off", 5, outcomes=("skipped",))
        ] == ["skipped"]


def test_it_lets_a_hook_mark_a_failed_run_timed_out_but_not_an_ok_one(
    loaded: Engine, clock: FrozenClock
) -> None:
    with session_scope(loaded) as session:
        for flow_run_id, result in (("f-1", "failed"), ("f-2", "ok")):
            run = runs.start_run(
                session, clock, client_id="acme", procedure_key="sign-off",
                flow_run_id=flow_run_id, scheduled_for=None,
            )  # fmt: skip
            runs.finish_run(session, clock, run.id, result)
        assert runs.finish_flow_run(session, clock, "f-1", "timed_out").outcome == "timed_out"
        assert runs.finish_flow_run(session, clock, "f-2", "crashed").outcome == "ok"
        assert runs.finish_flow_run(session, clock, "nope", "crashed") is None


def test_it_refuses_an_outcome_that_is_not_one(loaded: Engine, clock: FrozenClock) -> None:
    with session_scope(loaded) as session:
        run = runs.start_run(
            session, clock, client_id="acme", procedure_key="sign-off",
            flow_run_id=None, scheduled_for=None,
        )  # fmt: skip
        with pytest.raises(ValueError, match="not a final run outcome: 'great'"):
            runs.finish_run(session, clock, run.id, "great")
