"""The web app as `opsbinder web` serves it (uvicorn in a subprocess, its log in a file), driven
over HTTP: no token in the access log, a body limit enforced before authentication, and cookies
Secure over HTTPS (believed from a proxy only when the settings name it) or when configured.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine
from sqlalchemy import select as query

from opsbinder.store.db import session_scope
from opsbinder.store.models import ConsoleSession
from opsbinder.web.access_log import redact_url
from tests.cli.installed import ROOT, SCRIPT, environment
from tests.support.terminal import ctrl_c_enabled
from tests.web.conftest import PASSWORD, World, csrf_of, free_port


@dataclass
class Served:
    url: str
    port: int
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def served(store: Engine, tmp_path: Path, **settings: str) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / f"web-{port}.log"
    env = environment(
        tmp_path / "home", store.url.render_as_string(hide_password=False), **settings
    )
    proc = subprocess.Popen(
        [str(SCRIPT), "web", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=ctrl_c_enabled,
    )
    server = Served(f"http://127.0.0.1:{port}", port, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{server.url}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, server.text()[-3000:]
            time.sleep(0.3)
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert "Traceback" not in server.text(), server.text()[-3000:]


def test_it_writes_no_token_to_the_access_log(store: Engine, world: World, tmp_path: Path) -> None:
    token = world.status_a
    with served(store, tmp_path) as server:
        for target in (
            f"/status/nordhafen?token={token}",
            f"/status/nordhafen/feed.atom?token={token}",
            f"/status/nordhafen/feed.atom?lang=en&TOKEN={token}",
        ):
            answer = requests.get(server.url + target, allow_redirects=False, timeout=10)
            # the app reads `token`, not `TOKEN`: neither may reach the log
            assert answer.status_code in ((404,) if "TOKEN" in target else (200, 303)), target
    log = server.text()
    assert token not in log and token[:16] not in log
    assert '"GET /status/nordhafen/feed.atom?token=[redacted] HTTP/1.1" 200' in log, log
    assert "?lang=en&TOKEN=[redacted]" in log


def test_it_redacts_every_spelling_of_a_secret_parameter() -> None:
    # requests normalises %65 to "e" before sending; the app reads either as `token`
    assert (
        redact_url("/s/x?tok%65n=obs_1&a=b&key=k") == "/s/x?tok%65n=[redacted]&a=b&key=[redacted]"
    )
    assert redact_url("/s/x?token") == "/s/x?token" and redact_url("/s/x") == "/s/x"
    assert redact_url("/alertmanager/ik_1?x=1") == "/alertmanager/[redacted]?x=1"
    assert redact_url("/ping/0f3c/fail") == "/ping/[redacted]/fail"
    assert redact_url("/alertmanager") == "/alertmanager"


def raw_request(port: int, head: str, chunks: int = 0) -> int:
    """Send a request's head and `chunks` chunks of 1 KB, never the end of its body: a server
    that waited for the whole body would never answer. The status it answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n")
        for _ in range(chunks):
            sock.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
        answer = sock.recv(4096).decode(errors="replace")
    return int(answer.split()[1])


def test_it_refuses_a_large_body_before_authentication(
    store: Engine, world: World, tmp_path: Path
) -> None:
    notes = f"/api/v1/incidents/{world.incident_a}/notes"
    with served(store, tmp_path, OPSBINDER_MAX_BODY_BYTES="65536") as server:
        small = requests.post(server.url + notes, data=b"{}" + b" " * 60_000, timeout=10)
        assert small.status_code == 401  # under the limit: authentication answers
        large = requests.post(server.url + notes, data=b" " * 70_000, timeout=10)
        assert large.status_code == 413 and "larger than 65536 bytes" in large.text
        declared = (
            f"POST {notes} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 100000000\r\n"
        )
        assert raw_request(server.port, declared) == 413  # refused on what it declares
        streamed = f"POST {notes} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        assert raw_request(server.port, streamed, chunks=80) == 413  # counted as it comes
        bearer = {"Authorization": f"Bearer {world.api_staff}"}
        done = requests.post(server.url + notes, json={"message": "ok"}, headers=bearer)
        assert done.status_code == 201


def set_cookies(answer: requests.Response) -> dict[str, str]:
    found = {}
    for header in answer.raw.headers.getlist("Set-Cookie"):
        found[header.split("=", 1)[0]] = header.lower()
    return found


def sign_in(server: Served, headers: dict[str, str]) -> dict[str, str]:
    """Sign in as a browser behind the proxy would (which sends Secure cookies: it is HTTPS)."""
    page = requests.get(f"{server.url}/login", headers=headers, timeout=10)
    answer = requests.post(
        f"{server.url}/login",
        data={"username": "alice", "password": PASSWORD, "csrf": csrf_of(page.text)},
        cookies={"opsbinder_state": page.cookies["opsbinder_state"]},
        headers=headers,
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303, answer.text[:300]
    cookies = set_cookies(answer)
    session = cookies["opsbinder_session"]
    assert "httponly" in session and "samesite=lax" in session, session
    return {**set_cookies(page), **cookies}


def secure(cookie: str) -> bool:
    return "secure" in cookie.split("; ")


def addresses(store: Engine) -> list[str]:
    with session_scope(store) as s:
        rows = s.execute(query(ConsoleSession.address).order_by(ConsoleSession.id))
        return list(rows.scalars())


HTTPS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


@pytest.mark.parametrize("trusted", [False, True])
def test_it_marks_cookies_secure_over_https_as_a_trusted_proxy_says(
    store: Engine, world: World, tmp_path: Path, trusted: bool
) -> None:
    settings = {"OPSBINDER_TRUSTED_PROXIES": "127.0.0.1"} if trusted else {}
    with served(store, tmp_path, **settings) as server:
        over_https = sign_in(server, HTTPS_PROXY)
        plain = sign_in(server, {})
    assert all(secure(c) for c in over_https.values()) is trusted, over_https
    assert not any(secure(c) for c in plain.values()), plain
    assert addresses(store) == (["203.0.113.9"] if trusted else ["127.0.0.1"]) + ["127.0.0.1"]


def test_it_marks_cookies_secure_when_configured(
    store: Engine, world: World, tmp_path: Path
) -> None:
    with served(store, tmp_path, OPSBINDER_SECURE_COOKIES="true") as server:
        cookies = sign_in(server, {})
    assert set(cookies) == {"opsbinder_state", "opsbinder_session"}  # both pages' cookies
    assert all(secure(c) for c in cookies.values()), cookies
