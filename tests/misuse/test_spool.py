"""The hook spool replayed by two processes at once, and by one killed half-way: every spooled
failure counts exactly once. A hook that spools says so in one line."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder import spool
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents.hook_reports import HookReport
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent
from opsbinder.sync import sync_binder

ROOT = Path(__file__).resolve().parents[2]
OPSBINDER = ROOT / ".venv" / "bin" / "opsbinder"
N = 40


def report(clock: FrozenClock, n: int) -> HookReport:
    return HookReport(
        kind="failure",
        client_id="nordhafen",
        procedure_key="check-tms-backup",
        flow_run_id=None,
        state_name="Failed",
        at=(clock.now() + timedelta(seconds=n)).isoformat(),
        message=f"backup check failed ({n})",
    )


@pytest.fixture
def spooled(
    store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path, monkeypatch
) -> Path:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    directory = tmp_path / "spool"
    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(directory))
    get_settings.cache_clear()
    for n in range(N):
        spool.write(directory, report(clock, n).to_json())
    return directory


def child(mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("spool_child.py")), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def step(process: subprocess.Popen[str], records: int) -> None:
    """Let a stepping replay apply `records` more records; it then waits, holding its lock."""
    assert process.stdout is not None and process.stdin is not None
    for _ in range(records):
        line = process.stdout.readline()
        assert line.strip() == "applied", process.stderr.read() if process.stderr else line
        process.stdin.write("\n")
        process.stdin.flush()


def test_it_counts_each_spooled_failure_once_with_two_replays_and_a_kill(
    store: Engine, spooled: Path
) -> None:
    first = child("step")
    step(first, 5)
    second = child("0")  # the sweeper, say, while a person's replay runs
    out, err = second.communicate(timeout=120)
    assert out.strip() == "busy" and "Traceback" not in err, err

    step(first, 5)
    assert first.stdout is not None and first.stdout.readline().strip() == "applied"
    first.send_signal(signal.SIGKILL)  # half-way, blocked after its 11th record
    first.wait(timeout=30)
    assert list(spooled.glob("batch-*.jsonl")), "the kill left the batch behind"

    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    both = [
        subprocess.Popen(
            [OPSBINDER, "outbox", "replay"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in both]
    for code, out, err in results:
        assert code in (0, 4), (code, out, err)
        assert "Traceback" not in out + err and "FileNotFoundError" not in out + err
        if code == 4:
            assert "another replay" in err
    assert 0 in [code for code, _, _ in results]

    with session_scope(store) as s:
        incident = s.execute(select(Incident)).scalar_one()
        assert incident.occurrences == N
        ids = [
            d.get("report_id")
            for d in s.execute(
                select(IncidentEvent.data).where(IncidentEvent.incident_id == incident.id)
            ).scalars()
            if d.get("report_id")
        ]
    assert len(ids) == len(set(ids)) == N
    assert not list(spooled.glob("*.jsonl")) and spool.pending_count(spooled) == 0


def test_it_says_in_one_line_where_a_hook_spooled_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flows.hooks import record

    monkeypatch.setenv("OPSBINDER_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:9/x")
    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(tmp_path / "spool"))
    get_settings.cache_clear()
    with caplog.at_level(logging.WARNING, logger="opsbinder.hooks"):
        assert record(report(FrozenClock(), 0)) == "spool"
    (said,) = [r.getMessage() for r in caplog.records]
    assert "\n" not in said and str(tmp_path / "spool" / "pending.jsonl") in said
    assert said.startswith("store unreachable (OperationalError: ")
    assert "opsbinder outbox replay" in said and "sqlalche.me" not in said
