"""End to end: Prefect server on PostgreSQL, process work pool, `opsbinder deploy`, a worker.

Everything Prefect runs in subprocesses, as it would on real machines: the server, the worker,
the deploy command and the trigger. The store is the `store` fixture's PostgreSQL database,
shared with the worker's flow runs through OPSBINDER_DATABASE_URL. The failing run's first page
reaches a webhook receiver here with the sweep paused: sent by the failure hook on the worker.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import SystemClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, Run
from opsbinder.sync import sync_binder
from tests.deployments.conftest import failed_at, pause_deployment, started_between
from tests.deployments.conftest import start as _start
from tests.deployments.conftest import stop as _stop
from tests.notify.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "e2e-pool"
SECRET = "whsec_" + base64.b64encode(b"worker-pager-secret-of-32-bytes!").decode()
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


def test_it_runs_deployed_procedures_on_a_worker_records_them_and_pages_at_once(
    store: Engine,
    server: dict[str, str],
    tmp_path: Path,
    example_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = Receiver(secret=SECRET)
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
        "OPSBINDER_PAGER_WEBHOOK_URL": receiver.url,
        "OPSBINDER_PAGER_WEBHOOK_SECRET": SECRET,
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
    # no sweep: a page can only come from the failure hook itself
    pause_deployment(env["PREFECT_API_URL"], "sweep")

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
        deadline = time.monotonic() + 120  # the hook may still be paging as the run ends
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        _stop(worker)
        receiver.stop()
    (key, page), *others = receiver.accepted.items()
    assert not others and page["level_name"] == "L1 on-call", receiver.accepted
    arrived = datetime.fromtimestamp(receiver.accepted_at[key], UTC)
    failed = failed_at(env["PREFECT_API_URL"], bad_id)
    assert failed < arrived and not started_between(
        env["PREFECT_API_URL"], "sweep", failed, arrived
    )
    assert receiver.bad_signatures == 0

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
    assert incidents[0].flow_run_id == bad_id and page["incident"]["id"] == incidents[0].id

    history = _run([str(BIN / "opsbinder"), "history", "--client", "nordhafen", "--json"], env)
    assert history.returncode == 0, history.stderr
    entries = [json.loads(line) for line in history.stdout.splitlines() if line.startswith("{")]
    by_id = {e["flow_run_id"]: e for e in entries}
    assert by_id[bad_id]["source"] == "both" and by_id[bad_id]["prefect_state"] == "Failed"
    assert "store and Prefect" in history.stderr
