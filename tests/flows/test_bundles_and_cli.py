"""Bundles as subflows, `opsbinder run`, `opsbinder done` and `workitems`, on a real Prefect API."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from prefect import get_client
from prefect.exceptions import MissingResult
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from flows.bundles import bundle
from flows.catalog import bundle_outcomes, run_bundle_now
from opsbinder.cli.main import app, main
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Procedure, Run, WorkItem
from tests.flows.conftest import artifacts

pytestmark = pytest.mark.prefect
runner = CliRunner()


@pytest.mark.slow  # five flow runs with a 1 s timeout among them
def test_it_runs_every_procedure_of_the_cadence_and_fails_if_one_failed(
    acme: Path, store: Engine
) -> None:
    state = bundle(client_id="acme", cadence="daily", return_state=True)
    assert state.is_failed()
    assert "3 of 4 procedures failed: broken, check-old-backup, slow" in state.message
    outcomes = state.result(raise_on_failure=False).outcomes
    assert [(o.procedure_id, o.outcome) for o in outcomes] == [
        ("broken", "failed"),
        ("check-backup", "ok"),
        ("check-old-backup", "failed"),
        ("slow", "timed_out"),
    ]
    with session_scope(store) as session:
        runs = session.execute(select(Run)).scalars().all()
        assert len(runs) == 4 and all(r.flow_run_id for r in runs)
    (table,) = artifacts(state.state_details.flow_run_id)
    assert "| check-backup | backup_check | **ok** |" in table.data
    assert "4 procedures, 3 failed." in table.data


def test_it_completes_a_bundle_where_all_went_well_and_leaves_paused_ones_out(
    acme: Path, store: Engine
) -> None:
    with session_scope(store) as session:
        session.execute(update(Procedure).where(Procedure.key == "remind").values(paused=True))
    outcomes = run_bundle_now("acme", "weekly")
    assert [(o.procedure_id, o.outcome, o.summary) for o in outcomes] == [
        ("remind", "skipped", "paused: not run by the bundle"),
        ("sign-off", "ok", outcomes[1].summary),
    ]
    with session_scope(store) as session:
        assert [r.procedure_id for r in session.execute(select(Run)).scalars()] == [
            session.execute(select(Procedure.id).where(Procedure.key == "sign-off")).scalar_one()
        ]


def test_a_bundle_state_read_back_without_its_data_still_gives_the_outcomes(
    acme: Path, store: Engine
) -> None:
    """A retried state change is answered with the stored state, which has no data."""
    with session_scope(store) as session:
        session.execute(update(Procedure).where(Procedure.key == "remind").values(paused=True))
    state = bundle(client_id="acme", cadence="weekly", return_state=True)
    with get_client(sync_client=True) as client:
        stored = client.read_flow_run(state.state_details.flow_run_id).state
    assert stored is not None
    with pytest.raises(MissingResult):
        stored.result(raise_on_failure=False)
    outcomes = bundle_outcomes(stored)
    assert [(o.procedure_id, o.outcome) for o in outcomes] == [("sign-off", "ok")]
    assert outcomes[0].summary == state.result()[1]["summary"]


def test_it_runs_a_procedure_from_the_cli_and_exits_1_when_it_failed(
    acme: Path, store: Engine
) -> None:
    ok = runner.invoke(app, ["run", "check-backup"], env={"COLUMNS": "120"})
    assert ok.exit_code == 0, ok.output
    assert "check-backup" in ok.output and "ok" in ok.output
    dry = runner.invoke(app, ["run", "check-backup", "--dry-run"], env={"COLUMNS": "120"})
    assert dry.exit_code == 0 and "ok (dry run)" in dry.output
    with session_scope(store) as session:
        assert [r.dry_run for r in session.execute(select(Run).order_by(Run.id)).scalars()] == [
            False,
            True,
        ]
    bad = runner.invoke(app, ["run", "acme/check-old-backup"], env={"COLUMNS": "120"})
    assert bad.exit_code == 1
    assert "newest backup db-2.dump is 3d 8h old" in bad.output


@pytest.mark.slow
def test_it_runs_a_bundle_from_the_cli(acme: Path) -> None:
    result = runner.invoke(app, ["run", "--cadence", "weekly", "--client", "acme"])
    assert result.exit_code == 0, result.output
    assert "remind" in result.output and "sign-off" in result.output


def test_it_signs_off_a_checklist_with_done(acme: Path, store: Engine) -> None:
    result = runner.invoke(app, ["run", "sign-off"], env={"OPSBINDER_ACTOR": "lena"})
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["workitems", "--client", "acme"], env={"COLUMNS": "160"})
    assert "acme/sign-off" in listed.output and "checklist" in listed.output
    done = runner.invoke(
        app, ["done", "sign-off", "--note", "all looked fine"], env={"OPSBINDER_ACTOR": "priya"}
    )
    assert done.exit_code == 0, done.output
    assert "signed off checklist #" in done.output
    with session_scope(store) as session:
        item = session.execute(select(WorkItem)).scalar_one()
        assert (item.completed_by, item.note) == ("priya", "all looked fine")
        actions = session.execute(select(AuditEntry.action, AuditEntry.actor)).all()
        assert ("checklist.completed", "priya") in actions
        assert ("run.requested", "lena") in actions


def test_it_says_clearly_what_to_give_run(
    acme: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, message in (
        (["run"], "give a PROCEDURE, or --cadence with --client"),
        (["run", "--cadence", "daily"], "--cadence needs --client"),
        (["run", "nope"], "no procedure 'nope' in the store; load the binder first"),
        (["done", "check-backup", "--note", "x"], "acme/check-backup has no open checklist"),
    ):
        monkeypatch.setattr(sys, "argv", ["opsbinder", *argv])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code != 0
        assert message in " ".join(capsys.readouterr().err.split())
