"""Two clients in the store (the example `nordhafen` and a second, `lindqvist`), staff, tokens,
one open Severity-1 incident per client; the app in-process and on a real port."""

from __future__ import annotations

import socket
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

with warnings.catch_warnings():  # starlette suggests httpx2, which is not needed here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from opsbinder.web import create_app

PASSWORD = "correct horse battery"


@dataclass
class World:
    incident_a: int  # nordhafen, sev1
    incident_b: int  # lindqvist, sev1
    status_a: str
    status_b: str
    api_staff: str  # every scope, every client
    api_a: str  # every scope, nordhafen only
    api_b: str  # every scope, lindqvist only
    readonly: str  # incidents:read only


def two_client_binder(example_dir: Path) -> Binder:
    nordhafen = load_binder(example_dir).clients[0]
    info = nordhafen.client.model_copy(
        update={
            "id": "lindqvist",
            "name": "Lindqvist Bygg AB",
            "timezone": "Europe/Stockholm",
            "status_page_title": None,
        }
    )
    lindqvist = nordhafen.model_copy(update={"client": info, "maintenance_windows": []})
    return Binder(clients=[nordhafen, lindqvist])


def seed(engine: Engine, clock: FrozenClock, example_dir: Path) -> World:
    with session_scope(engine) as s:
        sync_binder(s, two_client_binder(example_dir), clock)
        accounts.add_user(
            s,
            clock,
            username="alice",
            role="L1",
            password=PASSWORD,
            display_name="Alice Ops",
            actor="test",
        )
        accounts.add_user(
            s, clock, username="mona", role="manager", password=PASSWORD, actor="test"
        )
        ids = []
        for client in ("nordhafen", "lindqvist"):
            inc = lifecycle.trigger(
                s,
                clock,
                client_id=client,
                procedure_key="check-tms-backup",
                dedup_key=f"{client}:check-tms-backup",
                title=f"TMS backup missing ({client})",
                severity="sev1",
                details={"error": "no backup newer than 26h"},
            )
            ids.append(inc.id)
        scopes = list(accounts.SCOPES)
        tok = {
            "status_a": accounts.issue_status_token(
                s, clock, client_id="nordhafen", name="page", actor="test"
            ),
            "status_b": accounts.issue_status_token(
                s, clock, client_id="lindqvist", name="page", actor="test"
            ),
            "api_staff": accounts.issue_api_token(
                s, clock, name="ops", scopes=scopes, actor="test", username="alice"
            ),
            "api_a": accounts.issue_api_token(
                s, clock, name="a", scopes=scopes, actor="test", client_id="nordhafen"
            ),
            "api_b": accounts.issue_api_token(
                s, clock, name="b", scopes=scopes, actor="test", client_id="lindqvist"
            ),
            "readonly": accounts.issue_api_token(
                s, clock, name="ro", scopes=["incidents:read"], actor="test"
            ),
        }
    return World(ids[0], ids[1], **{k: v.token for k, v in tok.items()})


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's production cost is ~0.5 s per hash on these machines; tests need correctness."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def world(store: Engine, clock: FrozenClock, example_dir: Path) -> World:
    return seed(store, clock, example_dir)


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
