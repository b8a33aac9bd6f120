"""History: the store's runs, filtered, merged with the runs only Prefect knows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.history import HistoryFilter, history, merge, outcome_of_state, store_entries
from opsbinder.orchestrator.flow_history import PrefectRun
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, Run
from opsbinder.sync import sync_binder

T0 = datetime(2026, 10, 5, 4, 30, tzinfo=UTC)


@pytest.fixture
def runs(store: Engine, example_dir: Path, clock: FrozenClock) -> Engine:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    with session_scope(store) as s:
        ids = {k: v for k, v in s.execute(select(Procedure.key, Procedure.id))}
        for i, (key, outcome) in enumerate(
            [
                ("check-tms-backup", "ok"),
                ("check-tms-backup", "failed"),
                ("purge-tracking-events", "ok"),
                ("check-disk-space", "crashed"),
            ]
        ):
            s.add(
                Run(
                    client_id="nordhafen",
                    procedure_id=ids[key],
                    flow_run_id=f"00000000-0000-0000-0000-00000000000{i}",
                    scheduled_for=T0 + timedelta(days=i),
                    started_at=T0 + timedelta(days=i, seconds=5),
                    outcome=outcome,
                )
            )
    return store


def test_it_filters_the_stores_runs(runs: Engine) -> None:
    assert len(store_entries(runs, HistoryFilter())) == 4
    backup = store_entries(runs, HistoryFilter(procedure="check-tms-backup"))
    assert [e.outcome for e in backup] == ["failed", "ok"]  # newest first
    assert [e.procedure for e in store_entries(runs, HistoryFilter(kind="purge"))] == [
        "purge-tracking-events"
    ]
    assert len(store_entries(runs, HistoryFilter(outcome="crashed"))) == 1
    window = HistoryFilter(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert len(store_entries(runs, window)) == 2
    assert store_entries(runs, HistoryFilter(client_id="someone-else")) == []


def _prefect(run_id: str, state_type: str, state_name: str, expected: datetime, **kw) -> PrefectRun:  # type: ignore[no-untyped-def]
    return PrefectRun(
        id=run_id,
        client_id="nordhafen",
        procedure_key=kw.get("key", "check-tms-backup"),
        deployment_tags=("opsbinder", "kind:backup_check"),
        state_type=state_type,
        state_name=state_name,
        expected_start_time=expected,
        start_time=kw.get("start"),
        end_time=None,
        message=kw.get("message", ""),
    )


def test_it_adds_what_only_prefect_knows_and_marks_what_both_know(runs: Engine) -> None:
    now = T0 + timedelta(days=10)
    prefect = [
        _prefect(
            "00000000-0000-0000-0000-000000000001", "FAILED", "Failed", T0 + timedelta(days=1)
        ),
        _prefect("late-one", "SCHEDULED", "Late", T0 + timedelta(days=8)),
        _prefect("crashed-early", "CRASHED", "Crashed", T0 + timedelta(days=7), message="OOM"),
        _prefect("cancelled", "CANCELLED", "Cancelled", T0 + timedelta(days=6)),
        _prefect("future", "SCHEDULED", "Scheduled", T0 + timedelta(days=20)),
    ]
    merged = merge(store_entries(runs, HistoryFilter()), prefect, HistoryFilter(), now)
    by_id = {e.flow_run_id: e for e in merged}
    assert by_id["00000000-0000-0000-0000-000000000001"].source == "both"
    assert by_id["00000000-0000-0000-0000-000000000001"].prefect_state == "Failed"
    assert (by_id["late-one"].outcome, by_id["late-one"].source) == ("late", "prefect")
    assert by_id["crashed-early"].outcome == "crashed" and by_id["crashed-early"].reason == "OOM"
    assert by_id["cancelled"].outcome == "cancelled"
    assert by_id["late-one"].kind == "backup_check"
    assert "future" not in by_id
    assert len(merged) == 7
    assert merged[0].flow_run_id == "late-one"  # newest first

    only_late = merge([], prefect, HistoryFilter(outcome="late"), now)
    assert [e.flow_run_id for e in only_late] == ["late-one"]


def test_it_reads_a_scheduled_run_in_the_past_as_late() -> None:
    now = T0
    past = _prefect("x", "SCHEDULED", "Scheduled", T0 - timedelta(minutes=5))
    assert outcome_of_state(past, now) == "late"
    timed_out = _prefect("y", "FAILED", "TimedOut", T0)
    assert outcome_of_state(timed_out, now) == "timed_out"


def test_it_says_store_only_when_prefect_is_absent_or_down(runs: Engine) -> None:
    result = history(runs, HistoryFilter(), T0, None)
    assert result.note.startswith("store only") and len(result.entries) == 4

    def down(_: HistoryFilter) -> list[PrefectRun]:
        raise ConnectionError("connection refused")

    result = history(runs, HistoryFilter(), T0, down)
    assert "did not answer" in result.note and len(result.entries) == 4


def test_it_prints_history_from_the_cli_without_a_server(
    runs: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsbinder.cli.main import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["history", "--procedure", "check-tms-backup", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert [x["outcome"] for x in lines] == ["failed", "ok"]
    result = CliRunner().invoke(app, ["history", "--since", "yesterday"])
    assert result.exit_code != 0
