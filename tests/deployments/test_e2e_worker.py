"""End to end: Prefect server on PostgreSQL, process work pool, `opsbinder deploy`, a worker.

Everything Prefect runs in subprocesses, as it would on real machines: the server, the worker,
the deploy command and the trigger. The store is the `store` fixture's PostgreSQL database,
shared with the worker's flow runs through OPSBINDER_DATABASE_URL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, select

from opsbinder.clock import SystemClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, Run
from opsbinder.sync import sync_binder
from tests.support import pg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "e2e-pool"
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.prefect]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole in finally
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


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


@pytest.fixture
def server(tmp_path: Path, backend: str) -> Iterator[dict[str, str]]:
    if backend != "postgresql":
        pytest.skip("the end-to-end test runs on PostgreSQL (store and Prefect server)")
    port = _free_port()
    prefect_db = pg.create_database("prefect").replace(
        "postgresql+psycopg2://", "postgresql+asyncpg://"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PREFECT_") or k == "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"
    }
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_DATABASE_CONNECTION_URL=prefect_db,
        PREFECT_SERVER_API_HOST="127.0.0.1",
    )
    proc = _start(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        tmp_path / "server.log",
    )
    try:
        api = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 240
        while True:
            try:
                if requests.get(f"{api}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "prefect server did not start:\n"
                    + (tmp_path / "server.log").read_text()[-3000:]
                )
            time.sleep(1)
        yield {**env, "PREFECT_API_URL": api}
    finally:
        _stop(proc)


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
