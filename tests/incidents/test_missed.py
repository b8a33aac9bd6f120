"""The missed-run watch: runs that never happened, maintenance windows, zombies, late runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents import missed_runs
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, Run
from opsbinder.sync import sync_binder

ROOT = Path(__file__).resolve().parents[2]
BACKUP = "nordhafen/check-tms-backup"


def _load(store: Engine, at: datetime, example_dir: Path) -> None:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), FrozenClock(at))


def _runs(store: Engine, key: str) -> list[tuple[str, datetime | None, str]]:
    with session_scope(store) as s:
        rows = s.execute(
            select(Run).join(Procedure).where(Procedure.key == key).order_by(Run.id)
        ).scalars()
        return [(r.outcome, r.scheduled_for, r.reason) for r in rows]


def test_it_opens_an_incident_for_a_run_that_never_happened(
    store: Engine, example_dir: Path
) -> None:
    _load(store, datetime(2026, 3, 20, 12, tzinfo=UTC), example_dir)
    # check-tms-backup: 06:30 Europe/Berlin (05:30 UTC) + 30 min grace
    before = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 5, 59, tzinfo=UTC)))
    assert not [m for m in before.missed if m.startswith(BACKUP)]
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 6, 0, tzinfo=UTC)))
    assert f"{BACKUP}@2026-03-21T05:30:00+00:00" in report.missed
    with session_scope(store) as s:
        inc = s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()
        assert inc.title == "Check last night's TMS backup: did not run"
        assert inc.severity == "sev2" and "06:30 CET" in inc.details["error"]
    outcome, scheduled, _ = _runs(store, "check-tms-backup")[0]
    assert outcome == "missed"
    assert scheduled.replace(tzinfo=UTC) == datetime(2026, 3, 21, 5, 30, tzinfo=UTC)
    # a second pass records nothing new
    again = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 6, 5, tzinfo=UTC)))
    assert not [m for m in again.missed if m.startswith(BACKUP)]
    with session_scope(store) as s:
        assert s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()


def test_it_is_quiet_when_the_run_happened(store: Engine, example_dir: Path) -> None:
    _load(store, datetime(2026, 3, 20, 12, tzinfo=UTC), example_dir)
    with session_scope(store) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        s.add(
            Run(
                client_id="nordhafen",
                procedure_id=proc.id,
                scheduled_for=datetime(2026, 3, 21, 5, 30, tzinfo=UTC),
                started_at=datetime(2026, 3, 21, 5, 30, 4, tzinfo=UTC),
                ended_at=datetime(2026, 3, 21, 5, 31, tzinfo=UTC),
                outcome="ok",
            )
        )
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 7, tzinfo=UTC)))
    assert not [m for m in report.missed if m.startswith(BACKUP)]


def test_it_records_a_run_in_a_maintenance_window_as_skipped(
    store: Engine, example_dir: Path
) -> None:
    # window "TMS 2027 release upgrade": 2027-01-16 22:00 to 01-17 06:00 Berlin, purge + backup
    _load(store, datetime(2027, 1, 16, 12, tzinfo=UTC), example_dir)
    report = missed_runs.watch(store, FrozenClock(datetime(2027, 1, 17, 3, tzinfo=UTC)))
    assert "nordhafen/purge-tracking-events@2027-01-17T00:15:00+00:00" in report.skipped
    assert not [m for m in report.missed if "purge-tracking-events" in m]
    outcome, _, reason = _runs(store, "purge-tracking-events")[0]
    assert outcome == "skipped" and "TMS 2027 release upgrade" in reason
    with session_scope(store) as s:
        assert (
            s.execute(
                select(Incident).where(Incident.dedup_key == "nordhafen/purge-tracking-events")
            ).first()
            is None
        )


def test_it_ignores_paused_procedures(store: Engine, example_dir: Path) -> None:
    _load(store, datetime(2026, 3, 20, 12, tzinfo=UTC), example_dir)
    with session_scope(store) as s:
        s.execute(
            select(Procedure).where(Procedure.key == "check-tms-backup")
        ).scalar_one().paused = True
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 7, tzinfo=UTC)))
    assert not [m for m in report.missed if m.startswith(BACKUP)]


def test_it_closes_a_run_stuck_past_timeout_and_grace(store: Engine, example_dir: Path) -> None:
    t0 = datetime(2026, 3, 21, 5, 30, tzinfo=UTC)
    _load(store, t0 - timedelta(days=1), example_dir)
    with session_scope(store) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        s.add(Run(client_id="nordhafen", procedure_id=proc.id, started_at=t0, outcome="running"))
    # timeout 1h + grace 30m
    assert not missed_runs.watch(store, FrozenClock(t0 + timedelta(minutes=89))).crashed
    report = missed_runs.watch(store, FrozenClock(t0 + timedelta(minutes=91)))
    assert len(report.crashed) == 1
    assert _runs(store, "check-tms-backup")[0][0] == "crashed"
    with session_scope(store) as s:
        inc = s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()
        assert "crashed without a trace" in inc.title


@pytest.mark.prefect
@pytest.mark.slow
def test_it_catches_a_sigkilled_flow_run(
    prefect_api: None, store: Engine, example_dir: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from opsbinder.orchestrator import flow_runs

    _load(store, datetime.now(UTC) - timedelta(days=1), example_dir)
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("slow_flow.py")),
            "nordhafen",
            "check-tms-backup",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        flow_run_id = None
        while time.monotonic() < deadline and flow_run_id is None:
            with session_scope(store) as s:
                run = s.execute(select(Run).where(Run.outcome == "running")).scalar_one_or_none()
                flow_run_id = run.flow_run_id if run else None
            time.sleep(0.2)
        assert flow_run_id, "the slow flow never started its run"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert flow_runs.read(flow_run_id).state_name == "Running"  # the zombie
    later = FrozenClock(datetime.now(UTC) + timedelta(hours=1, minutes=31))
    report = missed_runs.watch(store, later, orchestrator=flow_runs, lookback=timedelta(minutes=1))
    assert report.crashed == [flow_run_id]
    assert flow_runs.read(flow_run_id).state_name == "Crashed"
    with session_scope(store) as s:
        run = s.execute(select(Run).where(Run.flow_run_id == flow_run_id)).scalar_one()
        assert run.outcome == "crashed"
        inc = s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()
        assert inc.flow_run_id == flow_run_id


@pytest.mark.prefect
def test_it_cancels_a_run_later_than_its_expiry(
    prefect_api: None, store: Engine, example_dir: Path
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Late

    from opsbinder.orchestrator import flow_runs

    @flow(name="purge")
    def purge(client_id: str, procedure_id: str) -> None:
        return None

    now = datetime.now(UTC)
    _load(store, now - timedelta(days=1), example_dir)
    expected = now - timedelta(hours=7)  # purge-tracking-events: late_expiry 6h
    with get_client(sync_client=True) as client:
        run = client.create_flow_run(
            purge,
            parameters={"client_id": "nordhafen", "procedure_id": "purge-tracking-events"},
            state=Late(scheduled_time=expected),
        )
        young = client.create_flow_run(
            purge,
            parameters={"client_id": "nordhafen", "procedure_id": "purge-tracking-events"},
            state=Late(scheduled_time=now - timedelta(hours=1)),
        )
    report = missed_runs.watch(
        store, FrozenClock(now), orchestrator=flow_runs, lookback=timedelta(0)
    )
    assert str(run.id) in report.cancelled and str(young.id) not in report.cancelled
    assert flow_runs.read(str(run.id)).state_name == "Cancelled"
    assert flow_runs.read(str(young.id)).state_name == "Late"
    with session_scope(store) as s:
        row = s.execute(select(Run).where(Run.flow_run_id == str(run.id))).scalar_one()
        assert row.outcome == "missed" and "late_expiry" in row.reason


@pytest.mark.prefect
def test_it_runs_as_a_step_of_the_minutely_sweep_flow(
    prefect_api: None, store: Engine, example_dir: Path
) -> None:
    from flows.sweep import sweep

    _load(store, datetime.now(UTC) - timedelta(days=1), example_dir)
    report = sweep()["missed-run watch"]
    assert any(m.startswith(f"{BACKUP}@") for m in report["missed"])
    assert not report["errors"]
    with session_scope(store) as s:
        assert s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()


@pytest.mark.prefect
@pytest.mark.slow
def test_it_records_a_sigterm_crash_through_the_crash_hook(
    prefect_api: None, store: Engine, example_dir: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    _load(store, datetime.now(UTC) - timedelta(days=1), example_dir)
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("slow_flow.py")),
            "nordhafen",
            "check-tms-backup",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        flow_run_id = None
        while time.monotonic() < deadline and flow_run_id is None:
            with session_scope(store) as s:
                run = s.execute(select(Run).where(Run.outcome == "running")).scalar_one_or_none()
                flow_run_id = run.flow_run_id if run else None
            time.sleep(0.2)
        assert flow_run_id, "the slow flow never started its run"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    with session_scope(store) as s:
        run = s.execute(select(Run).where(Run.flow_run_id == flow_run_id)).scalar_one()
        assert run.outcome == "crashed"  # marked by on_crashed, no watch needed
        inc = s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalar_one()
        assert inc.details["state"] == "Crashed" and inc.flow_run_id == flow_run_id


def test_it_expects_one_run_on_the_fall_back_night() -> None:
    # "30 2 * * *" in Berlin: 02:30 happens twice on 2026-10-25; Prefect fires once
    times = missed_runs.fire_times(
        "30 2 * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, tzinfo=UTC),
        datetime(2026, 10, 26, tzinfo=UTC),
    )
    assert times == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
    ]
    hourly = missed_runs.fire_times(
        "0 * * * *",
        "America/New_York",
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        datetime(2026, 11, 1, 8, tzinfo=UTC),
    )
    # 01:00 EDT (05:00Z) fires; 01:00 EST (06:00Z) is the repeated hour and does not
    assert hourly == [
        datetime(2026, 11, 1, 5, tzinfo=UTC),
        datetime(2026, 11, 1, 7, tzinfo=UTC),
        datetime(2026, 11, 1, 8, tzinfo=UTC),
    ]


def test_it_counts_a_dry_run_neither_as_the_scheduled_run_nor_as_a_crash(
    store: Engine, example_dir: Path
) -> None:
    """A preview at the scheduled time does not do the work, and a preview that died pages no one."""
    t0 = datetime(2026, 3, 21, 5, 30, tzinfo=UTC)
    _load(store, t0 - timedelta(days=1), example_dir)
    with session_scope(store) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        s.add(Run(client_id="nordhafen", procedure_id=proc.id, scheduled_for=t0, started_at=t0,
                  outcome="running", dry_run=True))  # fmt: skip
    report = missed_runs.watch(store, FrozenClock(t0 + timedelta(minutes=91)))
    assert len(report.crashed) == 1  # the dead preview is closed...
    assert f"{BACKUP}@2026-03-21T05:30:00+00:00" in report.missed  # ...and was not the run
    with session_scope(store) as s:
        (incident,) = s.execute(select(Incident).where(Incident.dedup_key == BACKUP)).scalars()
        assert incident.title == "Check last night's TMS backup: did not run"
        assert incident.occurrences == 1  # only the missed run, nothing for the preview


def test_it_reads_a_definition_changed_since_the_last_pass(
    store: Engine, example_dir: Path, tmp_path: Path
) -> None:
    """The watch reads only the keys that say when runs are due, from the store, each pass:
    a grace, timeout or schedule changed by `opsbinder load` holds from the next pass on."""
    _load(store, datetime(2026, 3, 20, 12, tzinfo=UTC), example_dir)
    first = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 5, 59, tzinfo=UTC)))
    assert not [m for m in first.missed if m.startswith(BACKUP)]
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    text = procedures.read_text()
    old = '    schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}\n'
    new = '    schedule: {cron: "30 7 * * *", timezone: Europe/Berlin}\n'
    assert (
        text.count(old) == 1
        and "    grace: 30m\n    runbook:\n      purpose: A backup nobody" in text
    )
    text = text.replace(old, new).replace(
        "    grace: 30m\n    runbook:\n      purpose: A backup nobody",
        "    grace: 2h\n    timeout: 10m\n    runbook:\n      purpose: A backup nobody",
    )
    procedures.write_text(text)
    _load(store, datetime(2026, 3, 21, 5, 59, 30, tzinfo=UTC), folder)
    # now 07:30 Berlin (06:30 UTC) + 2h: at 06:00 UTC the old definition would have paged
    quiet = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 8, 29, tzinfo=UTC)))
    assert not [m for m in quiet.missed if m.startswith(BACKUP)]
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 21, 8, 30, tzinfo=UTC)))
    assert [m for m in report.missed if m.startswith(BACKUP)] == [
        f"{BACKUP}@2026-03-21T06:30:00+00:00"
    ]
    # the new timeout: a run started at 08:31 is stuck after 10m + 2h, not 1h + 2h
    with session_scope(store) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        started = datetime(2026, 3, 21, 8, 31, tzinfo=UTC)
        s.add(
            Run(client_id="nordhafen", procedure_id=proc.id, started_at=started, outcome="running")
        )
    assert not missed_runs.watch(store, FrozenClock(started + timedelta(minutes=129))).crashed
    assert len(missed_runs.watch(store, FrozenClock(started + timedelta(minutes=131))).crashed) == 1
