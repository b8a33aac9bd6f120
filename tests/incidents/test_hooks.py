"""The hooks on real Prefect flow runs (test harness), with the store up and with it away."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect import flow
from sqlalchemy import Engine, func, select

from flows.hooks import on_completion, on_crashed, on_failure
from opsbinder.clock import FrozenClock
from opsbinder.incidents.hook_reports import replay_spool
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent, Procedure, Run

pytestmark = pytest.mark.prefect


@flow(
    name="hooked-procedure",
    on_failure=[on_failure],
    on_crashed=[on_crashed],
    on_completion=[on_completion],
)
def hooked(client_id: str, procedure_id: str, fail: bool = True) -> str:
    from prefect import get_run_logger

    get_run_logger().info("checking the backup share")
    if fail:
        raise RuntimeError("no dump newer than 26h in /backups/tms")
    return "ok"


def _run(fail: bool) -> None:
    state = hooked(
        client_id="nordhafen", procedure_id="check-tms-backup", fail=fail, return_state=True
    )
    assert state.is_failed() == fail


def test_it_opens_an_incident_when_a_flow_fails(prefect_api: None, loaded: Engine) -> None:
    _run(fail=True)
    with session_scope(loaded) as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.dedup_key == "nordhafen/check-tms-backup"
        assert inc.severity == "sev2"  # from the procedure
        assert inc.details["state"] == "Failed"
        assert "no dump newer than 26h" in inc.details["error"]
        assert inc.details["link"].endswith(f"/runs/flow-run/{inc.flow_run_id}")
        assert inc.flow_run_id
        assert any("checking the backup share" in line for line in inc.details["log_lines"])


def test_it_adds_occurrences_and_auto_resolves_on_success(
    prefect_api: None, loaded: Engine
) -> None:
    _run(fail=True)
    _run(fail=True)
    with session_scope(loaded) as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.occurrences == 2 and inc.state == "triggered"
    _run(fail=False)
    with session_scope(loaded) as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.state == "resolved" and inc.resolved_by == "opsbinder"
        last = s.execute(
            select(IncidentEvent)
            .where(IncidentEvent.kind == "resolved")
            .order_by(IncidentEvent.id.desc())
            .limit(1)
        ).scalar_one()
        assert "resolved automatically" in last.message


def test_it_marks_the_store_run_of_the_flow_run_failed(
    prefect_api: None, loaded: Engine, clock: FrozenClock
) -> None:
    state = hooked(
        client_id="nordhafen", procedure_id="check-tms-backup", fail=True, return_state=True
    )
    with session_scope(loaded) as s:
        inc = s.execute(select(Incident)).scalar_one()
        flow_run_id = inc.flow_run_id
    assert state.is_failed()
    # A Run the procedure left 'running' (e.g. it died before finishing it) gets the hook's
    # outcome when the same report is applied: simulate with a fresh running Run.
    from opsbinder.incidents.hook_reports import HookReport, apply

    with session_scope(loaded) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        s.add(
            Run(
                client_id="nordhafen",
                procedure_id=proc.id,
                flow_run_id="11111111-1111-1111-1111-111111111111",
                started_at=clock.now(),
                outcome="running",
            )
        )
    report = HookReport(
        kind="failure",
        client_id="nordhafen",
        procedure_key="check-tms-backup",
        flow_run_id="11111111-1111-1111-1111-111111111111",
        state_name="TimedOut",
        at=clock.now().isoformat(),
        message="timed out after 3600s",
    )
    with session_scope(loaded) as s:
        apply(s, clock, report)
    with session_scope(loaded) as s:
        run = s.execute(select(Run)).scalar_one()
        assert run.outcome == "timed_out" and run.ended_at is not None
    assert flow_run_id


def test_it_spools_when_the_store_is_unreachable_and_replays_once(
    prefect_api: None,
    loaded: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    real_url = get_settings().store_url
    spool = tmp_path / "spool"
    # A closed port on loopback: PostgreSQL really is unreachable.
    monkeypatch.setenv("OPSBINDER_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/x")
    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(spool))
    get_settings.cache_clear()
    _run(fail=True)  # the hook must not raise: the flow still just fails
    _run(fail=True)
    lines = (spool / "pending.jsonl").read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["procedure_key"] == "check-tms-backup"

    monkeypatch.setenv("OPSBINDER_DATABASE_URL", real_url)
    get_settings.cache_clear()
    with session_scope(loaded) as s:
        assert s.scalar(select(func.count()).select_from(Incident)) == 0
    # An interrupted replay leaves the batch behind; replaying it again changes nothing.
    batch = spool / "batch-again.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    report = replay_spool(loaded, spool, clock)
    assert report.failed == 0 and report.applied == 4
    with session_scope(loaded) as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.occurrences == 2
    assert not list(spool.glob("*.jsonl"))


def test_it_keeps_the_spool_while_the_store_is_still_away(tmp_path: Path) -> None:
    from opsbinder import spool
    from opsbinder.store.db import make_engine

    directory = tmp_path / "spool"
    spool.write(
        directory,
        {
            "kind": "failure",
            "client_id": "nordhafen",
            "procedure_key": "x",
            "flow_run_id": None,
            "state_name": "Failed",
            "at": "2026-03-20T10:00:00+00:00",
        },
    )
    dead = make_engine("postgresql+psycopg2://postgres@127.0.0.1:9/x")
    report = replay_spool(dead, directory, FrozenClock())
    assert report.failed == 1 and report.applied == 0
    assert spool.pending_count(directory) == 1


def test_it_sets_aside_a_record_the_store_refuses_and_replays_the_rest(
    loaded: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    from opsbinder import spool

    directory = tmp_path / "spool"
    base = {
        "kind": "failure",
        "procedure_key": "check-tms-backup",
        "flow_run_id": None,
        "state_name": "Failed",
        "at": clock.now().isoformat(),
    }
    spool.write(directory, {**base, "client_id": "no-such-client"})
    spool.write(directory, {"garbage": True})
    spool.write(directory, {**base, "client_id": "nordhafen"})
    report = replay_spool(loaded, directory, clock)
    assert (report.applied, report.rejected, report.failed) == (1, 2, 0)
    assert spool.pending_count(directory) == 0
    assert len((directory / spool.REJECTED).read_text().splitlines()) == 2
    with session_scope(loaded) as s:
        assert s.execute(select(Incident)).scalar_one().client_id == "nordhafen"


def test_it_does_not_resolve_on_a_skipped_run(prefect_api: None, loaded: Engine) -> None:
    from prefect.states import Completed

    @flow(name="skipping-procedure", on_completion=[on_completion])
    def skipping(client_id: str, procedure_id: str):  # type: ignore[no-untyped-def]
        return Completed(name="Skipped", message="maintenance window")

    _run(fail=True)
    skipping(client_id="nordhafen", procedure_id="check-tms-backup")
    with session_scope(loaded) as s:
        assert s.execute(select(Incident)).scalar_one().state == "triggered"
