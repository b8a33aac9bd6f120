"""End to end: Prefect server on PostgreSQL, process work pool, `opsbinder deploy`, a worker.

Everything Prefect runs in subprocesses, as it would on real machines: the server, the worker,
the deploy command and the trigger. The store is the `store` fixture's PostgreSQL database,
shared with the worker's flow runs through OPSBINDER_DATABASE_URL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import SystemClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, Run
from opsbinder.sync import sync_binder
from tests.deployments.conftest import start as _start
from tests.deployments.conftest import stop as _stop

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "e2e-pool"
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.prefect]


def _run(
    cmd: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


TRIGGER = """
import sys
from prefect.deployments import run_deployment
run = run_deployment(sys.argv[1], timeout=240)
print(str(run.id), run.state.type.value, run.state.name)
"""


def test_it_runs_deployed_procedures_on_a_worker_and_records_them(
    store: Engine,
    server: dict[str, str],
    tmp_path: Path,
    example_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backups, data, archive = tmp_path / "backups", tmp_path / "data", tmp_path / "archive"
    for folder in (backups, data, archive):
        folder.mkdir()
    env = {
        **server,
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "OPSBINDER_HOME": str(tmp_path / "opsbinder"),
        "NORDHAFEN_BACKUP_DIR": str(backups),  # empty: the backup check fails
        "NORDHAFEN_DATA_DIR": str(data),
        "NORDHAFEN_ARCHIVE_DIR": str(archive),
        "NORDHAFEN_TMS_DB_URL": f"sqlite:///{tmp_path / 'tms.db'}",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    }
    for name, value in env.items():
        if name.startswith("NORDHAFEN_"):
            monkeypatch.setenv(name, value)
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), SystemClock())

    created = _run([str(BIN / "prefect"), "work-pool", "create", POOL, "--type", "process"], env)
    assert created.returncode == 0, created.stdout + created.stderr
    deployed = _run([str(BIN / "opsbinder"), "deploy", "--work-pool", POOL], env, timeout=600)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "backup_check/nordhafen.check-tms-backup" in deployed.stdout
    check = _run([str(BIN / "opsbinder"), "deploy", "--check"], env)
    assert check.returncode == 0, check.stdout + check.stderr

    worker = _start(
        [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process"],
        env,
        tmp_path / "worker.log",
    )
    try:
        ok = _run([sys.executable, "-c", TRIGGER, "manual/nordhafen.monthly-restore-test"], env)
        assert ok.returncode == 0, (
            ok.stdout + ok.stderr + (tmp_path / "worker.log").read_text()[-3000:]
        )
        ok_id, ok_type, _ = ok.stdout.split()[-3:]
        assert ok_type == "COMPLETED", (tmp_path / "worker.log").read_text()[-3000:]

        bad = _run([sys.executable, "-c", TRIGGER, "backup_check/nordhafen.check-tms-backup"], env)
        assert bad.returncode == 0, bad.stdout + bad.stderr
        bad_id, bad_type, _ = bad.stdout.split()[-3:]
        assert bad_type == "FAILED"
    finally:
        _stop(worker)

    with session_scope(store) as s:
        runs = {r.flow_run_id: r for r in s.execute(select(Run)).scalars()}
        assert runs[ok_id].outcome == "ok"
        assert runs[bad_id].outcome == "failed"
        backup = s.execute(
            select(Procedure).where(Procedure.key == "check-tms-backup")
        ).scalar_one()
        incidents = list(
            s.execute(select(Incident).where(Incident.procedure_id == backup.id)).scalars()
        )
    assert len(incidents) == 1 and incidents[0].severity == "sev2"
    assert incidents[0].flow_run_id == bad_id

    history = _run([str(BIN / "opsbinder"), "history", "--client", "nordhafen", "--json"], env)
    assert history.returncode == 0, history.stderr
    entries = [json.loads(line) for line in history.stdout.splitlines() if line.startswith("{")]
    by_id = {e["flow_run_id"]: e for e in entries}
    assert by_id[bad_id]["source"] == "both" and by_id[bad_id]["prefect_state"] == "Failed"
    assert "store and Prefect" in history.stderr
