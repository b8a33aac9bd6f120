"""`opsbinder serve` builds the same deployments for one process; CLI refusals are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder

ROOT = Path(__file__).resolve().parents[2]


def test_it_turns_every_spec_into_a_runner_deployment_for_serve(
    store: Engine, example_dir: Path, clock: FrozenClock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from deployments.build import build_specs
    from deployments.serve import runner_deployments

    monkeypatch.chdir(ROOT)
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
        set_paused(s, PauseTarget("nordhafen", "check-tms-backup"), True, clock, "mona")
    specs = build_specs(store)
    runners = {r.name: r for r in runner_deployments(specs)}
    assert set(runners) == {s.name for s in specs}
    backup = runners["nordhafen.check-tms-backup"]
    assert backup.paused is True
    assert backup.schedules[0].schedule.cron == "30 6 * * *"
    assert backup.schedules[0].schedule.timezone == "Europe/Berlin"
    assert backup.parameters == {"client_id": "nordhafen", "procedure_id": "check-tms-backup"}
    assert "kind:backup_check" in backup.tags
    assert runners["nordhafen.purge-tracking-events"].paused is False


@pytest.mark.slow
def test_it_refuses_unclear_commands_with_a_message_not_a_traceback() -> None:
    exe = str(Path(sys.executable).parent / "opsbinder")
    for args, words in (
        (["deploy"], "--work-pool"),
        (["deploy", "--check"], "no Prefect server configured"),
        (["pause"], "PROCEDURE or give --client"),
        (["pause", "no-such-procedure"], "no active procedure 'no-such-procedure'"),
        (["report", "--month", "10/2026"], "--month must look like 2026-10"),
    ):
        done = subprocess.run([exe, *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.returncode != 0, args
        assert words in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
