"""`opsbinder serve` without PREFECT_API_URL: a local Prefect server whose scheduler really runs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _completed_sweeper_runs(api: str) -> int:
    body = {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    answer = requests.post(f"{api}/flow_runs/count", json=body, timeout=10)
    return int(answer.json()) if answer.ok else 0


def test_it_serves_every_schedule_and_runs_them_on_a_local_server(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(
        OPSBINDER_DATABASE_URL=f"sqlite:///{tmp_path / 'store.db'}",
        OPSBINDER_HOME=str(tmp_path / "home"),
        PREFECT_HOME=str(tmp_path / "client-home"),
    )
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "opsbinder"),
            "serve",
            "-c",
            "config/example",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 420
        while _completed_ok(api) == 0:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(3)
        names = requests.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        assert {"nordhafen.check-tms-backup", "sweep"} <= {d["name"] for d in names}
        _sees_the_deployments_through_the_printed_ui(log.read_text(), api)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    time.sleep(2)
    with pytest.raises(requests.ConnectionError):  # the local server went with it
        requests.get(f"{api}/health", timeout=2)


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
    assert "nordhafen.check-tms-backup" in {d["name"] for d in listed.json()}
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
            page.get_by_text("nordhafen.check-tms-backup").first.wait_for(timeout=60_000)
            assert "Can't connect" not in page.content()
        finally:
            browser.close()


def _completed_ok(api: str) -> int:
    try:
        return _completed_sweeper_runs(api)
    except requests.RequestException:
        return 0
