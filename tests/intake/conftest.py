"""Two clients (the example `nordhafen` and `lindqvist`) with an integration key each, and the
app served by uvicorn over TLS on 127.0.0.1 (PagerDuty's client speaks nothing but https)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from opsbinder.web import create_app
from tests.support.world import two_client_binder
from tests.web.conftest import free_port


@dataclass
class Keys:
    a: str  # nordhafen's integration key
    b: str  # lindqvist's
    api: str  # an API token of nordhafen: not an integration key


@pytest.fixture
def keys(store: Engine, clock: FrozenClock, example_dir: Path) -> Keys:
    with session_scope(store) as s:
        sync_binder(s, two_client_binder(example_dir), clock)
        a = accounts.issue_integration_key(
            s, clock, client_id="nordhafen", name="grafana", actor="test"
        )
        b = accounts.issue_integration_key(
            s, clock, client_id="lindqvist", name="zabbix", actor="test"
        )
        api = accounts.issue_api_token(
            s, clock, name="x", scopes=list(accounts.SCOPES), actor="test", client_id="nordhafen"
        )
    return Keys(a.token, b.token, api.token)


@dataclass(frozen=True)
class Served:
    url: str
    ca: Path  # the self-signed certificate, for clients to trust


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def serve(app: object, *, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    port = free_port()
    extra = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    server = uvicorn.Server(
        uvicorn.Config(
            app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            **extra,  # type: ignore[arg-type]
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a busy machine starts slowly
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(
    store: Engine, clock: FrozenClock, keys: Keys, certificate: tuple[Path, Path]
) -> Iterator[Served]:
    app = create_app(store, clock, secret="test-secret")
    for url in serve(app, tls=certificate):
        yield Served(url, certificate[0])


@pytest.fixture
def plain(store: Engine, clock: FrozenClock, keys: Keys) -> Iterator[str]:
    """The same app over plain HTTP, for curl and Alertmanager."""
    yield from serve(create_app(store, clock, secret="test-secret"))
