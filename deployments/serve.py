"""`opsbinder serve`: every deployment in this one process, the embedded default."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opsbinder.orchestrator.deployments import (
    SERVED_API_FILE,
    OrchestratorUnavailable,
    healthy,
    to_prefect_schedule,
)
from opsbinder.orchestrator.specs import DeploymentSpec


def runner_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """The specs as Prefect RunnerDeployments, flows imported from the project's files."""
    from prefect.flows import load_flow_from_entrypoint

    flows: dict[str, Any] = {}
    found = []
    for spec in specs:
        if spec.entrypoint not in flows:
            flows[spec.entrypoint] = load_flow_from_entrypoint(spec.entrypoint)
        found.append(
            flows[spec.entrypoint].to_deployment(
                name=spec.name,
                schedules=[to_prefect_schedule(s) for s in spec.schedules],
                paused=spec.paused,
                parameters=spec.parameters,
                tags=list(spec.tags),
                description=spec.description,
            )
        )
    return found


@contextmanager
def local_server(home: Path, port: int | None = None) -> Iterator[str]:
    """A Prefect server for this machine only, started and stopped with `opsbinder serve`.

    Prefect's ephemeral API (what a client starts when PREFECT_API_URL is unset) runs no
    scheduler service, so schedules served against it would never produce a run. The embedded
    default therefore runs a real `prefect server` on 127.0.0.1 (SQLite under `home`).

    The UI it serves asks `/ui-settings` which API to call, and the server answers from its own
    settings (`PREFECT_UI_API_URL`, else host and port from `PREFECT_SERVER_API_HOST/PORT`), not
    from `--port`: so the server gets all three, or the UI would call port 4200.
    """
    port = port or _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": url,
    }
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_SERVER_UI_API_URL", None)  # an alias that would win over ours
    home.mkdir(parents=True, exist_ok=True)
    address = home / SERVED_API_FILE
    log = (home / "server.log").open("ab")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise OrchestratorUnavailable(
                    f"the local Prefect server did not start; see {home / 'server.log'}"
                )
            time.sleep(1)
        # `opsbinder pause` and `lockdown` find this server here and pause its deployments
        address.write_text(url)
        yield url
    finally:
        if address.exists() and address.read_text() == url:
            address.unlink()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def ui_url(api_url: str) -> str:
    """The server's UI: the API's address without `/api`."""
    return api_url.removesuffix("/api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_all(
    specs: list[DeploymentSpec], *, home: Path, limit: int | None = None, port: int | None = None
) -> None:
    """Blocks until interrupted. Prefect pauses these deployments again when it stops.

    With PREFECT_API_URL set, serves against that server; otherwise against a local server
    started for the purpose (see `local_server`).
    """
    from prefect import serve
    from prefect.settings import PREFECT_API_URL, PREFECT_UI_URL, temporary_settings

    if PREFECT_API_URL.value():
        serve(*runner_deployments(specs), limit=limit, print_starting_message=True)
        return
    with (
        local_server(home, port) as url,
        temporary_settings(updates={PREFECT_API_URL: url, PREFECT_UI_URL: ui_url(url)}),
    ):
        print(f"local Prefect server: UI at {ui_url(url)}, API at {url}", flush=True)
        serve(*runner_deployments(specs), limit=limit, print_starting_message=True)
