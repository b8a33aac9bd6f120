"""The web tests' world (tests/support/world.py, as `world`); the app in-process and on a real
port."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

with warnings.catch_warnings():  # starlette suggests httpx2, which is not needed here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from opsbinder.clock import FrozenClock
from opsbinder.web import create_app
from tests.support.world import (  # noqa: F401  (re-exported: other suites import them here)
    PASSWORD,
    World,
    cheap_password_hashing,
    seed,
    two_client_binder,
)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_password_hashing(monkeypatch)


@pytest.fixture
def world(two_clients: World) -> World:
    return two_clients


@pytest.fixture
def launched() -> list[tuple[str, str, str]]:
    """What "run now" started: the app's launcher seam records instead of spawning a flow."""
    return []


@pytest.fixture
def app(store: Engine, clock: FrozenClock, launched: list[tuple[str, str, str]]) -> FastAPI:
    return create_app(
        store, clock, secret="test-secret", launcher=lambda *run: launched.append(run)
    )


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def sign_in(web: TestClient, username: str = "alice", password: str = PASSWORD) -> None:
    page = web.get("/login")
    csrf = csrf_of(page.text)
    answer = web.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and "/login" not in answer.headers["location"], answer.text


def csrf_of(html: str) -> str:
    import re

    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[str]:
    """The app on a real port of 127.0.0.1, served by uvicorn in a thread."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
