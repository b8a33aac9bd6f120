"""`opsbinder serve` without PREFECT_API_URL, as a user runs it: a local Prefect server whose
scheduler really runs, a UI that talks to it, the minutely sweep, an expected failure that
logs one line, and pauses that stop the next scheduled run while serve keeps running."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from opsbinder.clock import SystemClock
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.db import engine_for, session_scope
from opsbinder.store.models import Run
from tests.deployments.conftest import flow_runs as _runs

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).parent / "opsbinder")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
BACKUP = "nordhafen.check-tms-backup"  # fails every minute here: its backup folder is empty
CHECKLIST = "nordhafen.monthly-restore-test"  # a manual checklist, due every minute here
pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _every_minute(tmp_path: Path) -> Path:
    """The example binder with the backup check and the restore checklist due every minute."""
    binder = tmp_path / "binder"
    shutil.copytree(ROOT / "config" / "example", binder)
    procedures = binder / "procedures.yaml"
    text = procedures.read_text()
    for cron in ('"30 6 * * *"', '"0 9 1 * *"'):
        assert text.count(cron) == 1, cron
        text = text.replace(cron, '"* * * * *"')
    procedures.write_text(text)
    return binder


def _state(run: dict[str, Any]) -> tuple[str, str]:
    state = run.get("state") or {}
    return str(state.get("type")), str(state.get("name"))


def _wait(what: str, ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 420
    while not ready():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"waited for {what}\n" + log.read_text()[-3000:]
        time.sleep(3)


def start_serve(
    tmp_path: Path, port: int, **settings: str
) -> tuple[subprocess.Popen[bytes], Path, dict[str, str]]:
    """`opsbinder serve` of the every-minute binder as a user starts it (no PREFECT_API_URL): its
    store a SQLite file and its backup folder empty, so the backup check fails every minute.
    Returns the process, its log and its environment (`settings` added)."""
    backups = tmp_path / "backups"
    backups.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        OPSBINDER_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
        OPSBINDER_HOME=str(tmp_path / "home"),
        PREFECT_HOME=str(tmp_path / "client-home"),
        NORDHAFEN_BACKUP_DIR=str(backups),
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="INFO",  # Prefect's default: what a user sees
        **settings,
    )
    log = tmp_path / "serve.log"
    serve = [EXE, "serve", "-c", str(_every_minute(tmp_path)), "--port", str(port)]
    proc = subprocess.Popen(
        serve,
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log, env


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_it_serves_the_binder_with_its_ui_one_line_failures_and_pauses_at_once(
    tmp_path: Path,
) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    proc, log, env = start_serve(tmp_path, port)
    store_url = env["OPSBINDER_DATABASE_URL"]
    try:
        _wait(
            "a completed sweep, a failed backup check, a completed checklist",
            lambda: (
                any(_state(r)[0] == "COMPLETED" for r in _runs(api, "sweep"))
                and any(_state(r)[0] == "FAILED" for r in _runs(api, BACKUP))
                and any(_state(r) == ("COMPLETED", "Completed") for r in _runs(api, CHECKLIST))
            ),
            proc,
            log,
        )
        names = {d["name"] for d in requests.post(f"{api}/deployments/filter", json={}).json()}
        assert {BACKUP, CHECKLIST, "sweep"} <= names
        assert not {"escalation", "missed-runs", "update-cadence", "work-items"} & names
        _sees_the_deployments_through_the_printed_ui(log.read_text(), api)

        # an expected failure: one line in the serve log, no traceback
        output = log.read_text()
        said = [line for line in output.splitlines() if "check-tms-backup failed: " in line]
        assert said and all("Finished in state Failed(" in line for line in said), said
        assert "Traceback" not in output, output[-3000:]

        # pause while serve runs: the CLI (as a user) and the store (as the console does)
        done = subprocess.run(
            [EXE, "pause", "check-tms-backup"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert f"paused backup_check/{BACKUP} on the server" in done.stdout
        engine = engine_for(store_url)
        with session_scope(engine) as session:
            target = PauseTarget("nordhafen", "monthly-restore-test")
            assert set_paused(session, target, True, SystemClock(), "mona")
        # runs due from here on start after both pauses were committed; one due in the seconds
        # the CLI took may already have read "not paused" and rightly run
        paused_at = datetime.now(UTC)

        def after_pause(deployment: str) -> list[dict[str, Any]]:
            return [
                r
                for r in _runs(api, deployment)
                if datetime.fromisoformat(r["expected_start_time"]) > paused_at
            ]

        _wait(
            "the checklist's next run",
            lambda: any(_state(r)[0] == "COMPLETED" for r in after_pause(CHECKLIST)),
            proc,
            log,
        )
        skipped = next(r for r in after_pause(CHECKLIST) if _state(r)[0] == "COMPLETED")
        assert _state(skipped) == ("COMPLETED", "Skipped")
        with session_scope(engine) as session:
            run = session.execute(select(Run).where(Run.flow_run_id == skipped["id"])).scalar_one()
            assert run.outcome == "skipped" and run.reason.startswith("paused: ")
        # the paused deployment: no new run at all (one already handed to serve is skipped)
        backup = requests.post(
            f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [BACKUP]}}}
        ).json()
        assert backup[0]["paused"] is True
        late = after_pause(BACKUP)
        assert len(late) <= 1 and all(_state(r)[1] != "Failed" for r in late), late
    finally:
        stop_serve(proc)
    time.sleep(2)
    with pytest.raises(requests.ConnectionError):  # the local server went with it
        requests.get(f"{api}/health", timeout=2)
    assert not (tmp_path / "home" / "prefect" / "served-api-url").exists()


def _sees_the_deployments_through_the_printed_ui(output: str, api: str) -> None:
    """As the UI page does: ask its server which API to call, then list deployments there."""
    found = re.search(r"UI at (http://\S+?),", output)
    assert found, output[-3000:]
    ui = found.group(1)
    page = requests.get(ui, timeout=10)
    assert page.ok and "<html" in page.text.lower()
    settings = requests.get(f"{ui}/ui-settings", timeout=10).json()
    assert settings["api_url"] == api  # not http://127.0.0.1:4200/api
    listed = requests.post(f"{settings['api_url']}/deployments/filter", json={}, timeout=10)
    assert BACKUP in {d["name"] for d in listed.json()}
    _sees_a_deployment_in_chromium(ui)


def _sees_a_deployment_in_chromium(ui: str) -> None:
    """The UI itself, JavaScript on, shows a deployment: it reached the right API."""
    if not os.path.exists(CHROMIUM):
        return  # the HTTP check above already followed the UI's own calls
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{ui}/deployments", timeout=60_000)
            page.get_by_text(BACKUP).first.wait_for(timeout=60_000)
            assert "Can't connect" not in page.content()
        finally:
            browser.close()
