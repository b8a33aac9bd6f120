"""Success paths that need a server, Prefect or a client's database, black box as in
test_exit_codes.py: the installed script, its exit code, never a traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine

from opsbinder.clock import FrozenClock, SystemClock
from opsbinder.config.loader import load_binder
from opsbinder.config.models import ArchiveProcedure, DatabaseSystem
from opsbinder.demo import demo_env, orders, prepare_demo
from opsbinder.procedures import archive
from opsbinder.procedures.context import ProcedureContext
from tests.cli.conftest import World
from tests.cli.installed import EXAMPLE, ROOT, SCRIPT, run_cli
from tests.support.terminal import ctrl_c_enabled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _started(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The command in its own process group, stopped (whole) however the test ends."""
    proc = subprocess.Popen(
        [str(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=ctrl_c_enabled,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def _ctrl_c(proc: subprocess.Popen[bytes], log: Path, timeout: float) -> int:
    """SIGINT to the process group, as a terminal's Ctrl-C does; its exit status."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running after Ctrl-C:\n{log.read_text()[-3000:]}") from None


def _wait_for(check, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)


def test_it_serves_the_web_app_and_ctrl_c_stops_it(world: World) -> None:
    port = _free_port()
    log = world.tmp / "web.log"

    def answers() -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/login", timeout=2).ok
        except requests.ConnectionError:
            return False

    with _started(["web", "--port", str(port)], world.env, log) as proc:
        _wait_for(answers, proc, log, timeout=120)
        code = _ctrl_c(proc, log, timeout=60)
    output = log.read_text()
    assert code == 0, output  # a server's Ctrl-C is its stop button: a clean shutdown
    assert "Application shutdown complete" in output and "Traceback" not in output


@pytest.mark.slow
def test_it_serves_on_a_prefect_server_and_ctrl_c_stops_it(world: World) -> None:
    """Without PREFECT_API_URL, serve starts its own local Prefect server; Ctrl-C stops both."""
    log = world.tmp / "serve.log"
    port = _free_port()
    with _started(["serve", "-c", str(EXAMPLE), "--port", str(port)], world.env, log) as proc:
        _wait_for(lambda: "being served" in log.read_text(), proc, log, timeout=420)
        code = _ctrl_c(proc, log, timeout=120)
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    with pytest.raises(requests.ConnectionError):  # the local server went with it
        requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2)


@pytest.mark.slow
@pytest.mark.prefect
def test_it_exits_0_for_a_passing_run_and_1_for_a_failed_one(
    world: World, backend: str, prefect_api: None
) -> None:
    if backend != "sqlite":
        pytest.skip("the run's exit status does not depend on the store's backend")
    from prefect.settings import PREFECT_API_URL

    prepare_demo(world.tmp / "demo", SystemClock(), rows=200)  # its newest backup is stale
    world.env.update(demo_env(world.tmp / "demo"), PREFECT_API_URL=str(PREFECT_API_URL.value()))

    passed = run_cli(["run", "check-disk-space", "--dry-run"], world.env, timeout=300)
    assert passed.code == 0 and "ok (dry run)" in passed.out, str(passed)
    failed = run_cli(["run", "check-tms-backup"], world.env, timeout=300)
    assert failed.code == 1, str(failed)
    assert "1 of 1 failed" in failed.err and "check-tms-backup" in failed.err
    assert "Traceback" not in passed.output + failed.output


def test_it_restores_an_archive(world: World, clock: FrozenClock) -> None:
    """The example's archive procedure run once (120 orders archived), then restored."""
    url = f"sqlite:///{world.tmp / 'tms.db'}"
    tms = create_engine(url)
    orders.create(tms)
    old = clock.now() - timedelta(days=800)
    with tms.begin() as conn:
        conn.execute(
            orders.insert(),
            [
                {"id": i, "customer": f"C{i}", "status": "delivered", "delivered_at": old}
                for i in range(1, 121)
            ],
        )
    env = {"NORDHAFEN_TMS_DB_URL": url, "NORDHAFEN_ARCHIVE_DIR": str(world.tmp / "share")}
    client, proc = load_binder(EXAMPLE).find_procedure("nordhafen/archive-delivered-orders")
    system = client.system("tms-db")
    assert isinstance(proc, ArchiveProcedure) and isinstance(system, DatabaseSystem)
    ctx = ProcedureContext("nordhafen", proc.id, clock, world.engine, environ=env)
    assert archive.run(ctx, proc, system).metrics["rows_archived"] == 120
    world.env.update(env)

    args = ["archive", "restore", "archive-delivered-orders", "--into", "orders", "-c"]
    ran = run_cli([*args, str(EXAMPLE)], world.env)
    assert ran.code == 0 and "restored 120 rows into orders" in ran.out, str(ran)
    assert "Traceback" not in ran.output
    tms.dispose()
