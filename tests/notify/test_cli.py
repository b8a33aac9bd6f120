from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from opsbinder import spool
from opsbinder.cli.main import app
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents.hook_reports import HookReport
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident
from opsbinder.sync import sync_binder

runner = CliRunner()


def test_it_replays_the_spool_from_the_command_line(
    store: Engine,
    clock: FrozenClock,
    example_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(tmp_path / "spool"))
    get_settings.cache_clear()  # the sync above read the settings already
    report = HookReport(
        kind="failure",
        client_id="nordhafen",
        procedure_key="check-tms-backup",
        flow_run_id=None,
        state_name="Crashed",
        at=clock.now().isoformat(),
        message="SIGTERM",
    )
    spool.write(tmp_path / "spool", report.to_json())
    out = runner.invoke(app, ["outbox", "list"])
    assert "1 hook report(s) waiting in the spool" in out.output
    out = runner.invoke(app, ["outbox", "replay"])
    assert out.exit_code == 0, out.output
    assert "replayed 1" in out.output
    assert runner.invoke(app, ["outbox", "replay"]).output.startswith("replayed 0")
    with session_scope(store) as s:
        inc = s.execute(select(Incident)).scalar_one()
        assert inc.details["state"] == "Crashed" and inc.occurrences == 1
