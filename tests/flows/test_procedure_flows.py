"""Procedure flows on a real Prefect API: runs recorded with flow-run ids, artifacts, states."""

from __future__ import annotations

import logging
from pathlib import Path
from uuid import UUID

import pytest
from prefect import get_client
from prefect.exceptions import MissingResult
from sqlalchemy import Engine, func, select

from flows import procedures, registry
from flows.bundles import outcome_of
from flows.catalog import run_now
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Run, WorkItem
from tests.flows.conftest import artifacts

pytestmark = pytest.mark.prefect


def _run(session, flow_run_id) -> Run:  # type: ignore[no-untyped-def]
    return session.execute(select(Run).where(Run.flow_run_id == str(flow_run_id))).scalar_one()


def test_it_records_the_run_with_its_flow_run_id_metrics_and_an_artifact(
    acme: Path, store: Engine
) -> None:
    state = procedures.backup_check(
        client_id="acme", procedure_id="check-backup", return_state=True
    )
    assert state.is_completed()
    flow_run_id = state.state_details.flow_run_id
    with session_scope(store) as session:
        run = _run(session, flow_run_id)
        assert run.outcome == "ok"
        assert run.metrics["newest_file"] == "db-2.dump"
        assert run.metrics["newest_age_hours"] == pytest.approx(2, abs=0.2)
        assert run.ended_at is not None
    (artifact,) = artifacts(flow_run_id)
    assert artifact.key == "acme-check-backup"
    assert "**Outcome: OK**" in artifact.data
    assert "| newest_file | db-2.dump |" in artifact.data


def test_it_fails_the_flow_run_when_the_procedure_fails_and_the_hook_opens_an_incident(
    acme: Path, store: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    state = procedures.backup_check(
        client_id="acme", procedure_id="check-old-backup", return_state=True
    )
    assert state.is_failed()
    assert state.message == (
        "acme/check-old-backup failed: newest backup db-2.dump is 3d 8h old (allowed: 1d 2h)"
    )
    # an expected failure is one line in the log, not a traceback
    said = [r.getMessage() for r in caplog.records if "3d 8h old" in r.getMessage()]
    assert said == [f"Finished in state {state}"]
    assert not any(r.exc_info or r.levelno >= logging.ERROR for r in caplog.records)
    with session_scope(store) as session:
        run = _run(session, state.state_details.flow_run_id)
        assert (run.outcome, run.reason) == (
            "failed",
            "newest backup db-2.dump is 3d 8h old (allowed: 1d 2h)",
        )
        incident = session.execute(select(Incident)).scalar_one()
        assert incident.dedup_key == "acme/check-old-backup"
    assert "**Outcome: FAILED**" in artifacts(state.state_details.flow_run_id)[0].data


def test_it_records_an_exception_as_a_failed_run_with_its_reason(acme: Path, store: Engine) -> None:
    outcome = run_now("acme", "broken", actor="lena")
    assert outcome.outcome == "failed"
    assert outcome.summary == "ConnectionError: client database refused the connection"
    with session_scope(store) as session:
        run = _run(session, outcome.flow_run_id)
        assert (run.outcome, run.actor) == ("failed", "lena")


def test_it_applies_the_procedures_timeout(acme: Path, store: Engine) -> None:
    outcome = run_now("acme", "slow")
    assert outcome.outcome == "timed_out"
    assert outcome.summary.startswith("timed out after 1 s")
    with session_scope(store) as session:
        assert _run(session, outcome.flow_run_id).outcome == "timed_out"


def test_it_skips_a_run_in_a_maintenance_window(acme: Path, store: Engine) -> None:
    state = procedures.manual(client_id="acme", procedure_id="windowed", return_state=True)
    assert state.is_completed() and state.name == "Skipped"
    with session_scope(store) as session:
        run = _run(session, state.state_details.flow_run_id)
        assert (run.outcome, run.reason) == ("skipped", "maintenance window 'upgrade'")
        assert session.execute(select(func.count()).select_from(WorkItem)).scalar_one() == 0


def test_it_creates_reminders_once_over_two_runs(acme: Path, store: Engine) -> None:
    first = run_now("acme", "remind")
    second = run_now("acme", "remind")
    assert (first.metrics["reminders_created"], second.metrics["reminders_created"]) == (1, 0)
    with session_scope(store) as session:
        assert session.execute(select(func.count()).select_from(WorkItem)).scalar_one() == 1


def test_a_final_state_read_back_without_its_data_still_gives_the_outcome(
    acme: Path, store: Engine
) -> None:
    """A busy server can lose the answer to a state change; the client's retry is answered with
    the stored state, which has no data (seen in CI as MissingResult on a second run)."""
    first = run_now("acme", "remind")
    with get_client(sync_client=True) as client:
        stored = client.read_flow_run(UUID(first.flow_run_id)).state
    assert stored is not None and stored.is_completed()
    with pytest.raises(MissingResult):
        stored.result(raise_on_failure=False)
    outcome = outcome_of(stored, "acme", "remind", "update_reminder")
    assert (outcome.outcome, outcome.run_id) == ("ok", first.run_id)
    assert outcome.metrics["reminders_created"] == 1
    assert outcome.summary == first.summary


def test_it_refuses_a_procedure_of_another_kind(acme: Path) -> None:
    state = procedures.purge(client_id="acme", procedure_id="check-backup", return_state=True)
    assert state.is_failed()
    assert (
        "acme/check-backup is a backup_check procedure; the purge flow cannot run it"
        in state.message
    )


def test_it_names_a_flow_and_an_entrypoint_for_every_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.flows import load_flow_from_entrypoint

    from opsbinder.config.models import PROCEDURE_KINDS

    assert set(procedures.FLOWS) == set(registry.PROCEDURES) == set(PROCEDURE_KINDS)
    monkeypatch.chdir(registry.PROJECT_ROOT)
    for kind, flow in procedures.FLOWS.items():
        assert flow.name == kind
        assert registry.PROCEDURES[kind].entrypoint == f"flows/procedures.py:{kind}"
        assert [h.__name__ for h in flow.on_failure_hooks] == ["on_failure"]
        assert flow.description == registry.PROCEDURES[kind].description
    # every flow of the registry, sweepers included, is where its entrypoint says, by that name
    for entry in registry.every_flow():
        assert load_flow_from_entrypoint(entry.entrypoint).name == entry.name, entry


def test_it_sweeps_overdue_checklists_into_incidents(acme: Path, store: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from flows.sweep import sweep

    run_now("acme", "sign-off")
    with session_scope(store) as session:
        item = session.execute(select(WorkItem)).scalar_one()
        item.due_at = datetime.now(UTC) - timedelta(minutes=1)
    assert sweep()["work items"] == {"escalated": 1}
    assert sweep()["work items"] == {"escalated": 0}  # each item pages once
    with session_scope(store) as session:
        incident = session.execute(select(Incident)).scalar_one()
        assert incident.title == "Overdue: Test sign-off"
