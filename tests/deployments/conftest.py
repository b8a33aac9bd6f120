"""A real Prefect server in a subprocess, on PostgreSQL, for the tests that need one."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from tests.support import pg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _prefect_http() -> requests.Session:
    """Requests to a Prefect server retried as Prefect's own client retries them: a server on
    SQLite answers 503 while another of its connections holds the write lock (seen under a
    loaded `opsbinder serve`), and its UI's switches retry too."""
    session = requests.Session()
    retry = Retry(
        total=6, backoff_factor=0.5, status_forcelist=(429, 502, 503), allowed_methods=None
    )
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


prefect_http = _prefect_http()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole in finally
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def pause_deployment(api: str, name: str) -> None:
    """Pause a deployment on the server, as its UI's switch does (its scheduled runs go)."""
    found = prefect_http.post(
        f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}, timeout=10
    ).json()
    done = prefect_http.patch(
        f"{api}/deployments/{found[0]['id']}", json={"paused": True}, timeout=10
    )
    assert done.ok, done.text


def flow_runs(api: str, deployment: str) -> list[dict[str, Any]]:
    body = {"deployments": {"name": {"any_": [deployment]}}, "sort": "EXPECTED_START_TIME_ASC"}
    try:
        answer = prefect_http.post(f"{api}/flow_runs/filter", json=body, timeout=10)
    except requests.RequestException:
        return []
    return list(answer.json()) if answer.ok else []


def started_between(api: str, deployment: str, first: datetime, last: datetime) -> list[str]:
    """The deployment's runs that started in [first, last]: none, when the page in between
    must have come from somewhere else."""
    return [
        r["id"]
        for r in flow_runs(api, deployment)
        if r.get("start_time") and first <= datetime.fromisoformat(r["start_time"]) <= last
    ]


def failed_at(api: str, flow_run_id: str) -> datetime:
    """When Prefect put the run in its Failed state."""
    run = prefect_http.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
    assert (run.get("state") or {}).get("type") == "FAILED", run
    return datetime.fromisoformat(run["state"]["timestamp"])


@pytest.fixture
def server(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """The server's environment (PREFECT_API_URL included); indirect parameters add settings."""
    if backend != "postgresql":
        pytest.skip("runs on PostgreSQL (store and Prefect server)")
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
    env.update(getattr(request, "param", {}))
    proc = start(
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
        stop(proc)
