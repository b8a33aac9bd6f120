"""Guessing passwords gets nowhere: sign-in throttled per account and per address, from outside.

The app is served by uvicorn on a real port and driven over HTTP; the clock is the test's. The
attempts before the limit are checked (the right password still signs in); past it, even the
right password is answered 429 with Retry-After and not checked, with delays that grow, no
audit entry per attempt, and one entry for the burst. Addresses come from X-Forwarded-For,
which this server believes from 127.0.0.1 (as `opsbinder web` does only for trusted proxies).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from opsbinder import sign_in_throttle
from opsbinder.clock import FrozenClock, SystemClock
from opsbinder.sign_in_throttle import CAP, delay_after
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, SignInFailures
from opsbinder.web import create_app
from tests.cli.installed import Ran, environment, run_cli
from tests.web.conftest import PASSWORD, World, csrf_of

WRONG = "not the password at all"


@pytest.fixture
def browser(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server) as web:
        yield web


def attempt(web: httpx.Client, username: str, password: str, address: str = "10.0.0.1") -> int:
    """One sign-in from `address`: 303 to the console (in), 303 to /login (refused), or 429."""
    web.cookies.clear()
    page = web.get("/login", headers={"X-Forwarded-For": address})
    answer = web.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
        headers={"X-Forwarded-For": address},
        follow_redirects=False,
    )
    if answer.status_code == 303 and not answer.headers["location"].startswith("/login"):
        return 200  # signed in
    if answer.status_code == 429:
        assert int(answer.headers["Retry-After"]) >= 1
    return answer.status_code


def retry_after(web: httpx.Client, username: str, address: str = "10.0.0.1") -> int:
    page = web.get("/login", headers={"X-Forwarded-For": address})
    answer = web.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text)},
        headers={"X-Forwarded-For": address},
        follow_redirects=False,
    )
    assert answer.status_code == 429, answer.text[:300]
    assert "Too many failed sign-ins" in answer.text
    return int(answer.headers["Retry-After"])


def audited(store: Engine, action: str) -> int:
    with session_scope(store) as s:
        count = s.execute(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
        return int(count.scalar_one())


def test_it_checks_every_attempt_before_the_limit(
    browser: httpx.Client, store: Engine, world: World
) -> None:
    for _ in range(4):
        assert attempt(browser, "alice", WRONG) == 303
    assert attempt(browser, "alice", PASSWORD) == 200  # the 5th attempt was checked
    assert audited(store, "user.sign_in_failed") == 4
    assert audited(store, "user.sign_in_throttled") == 0


def test_it_blocks_an_account_with_growing_delays_and_audits_the_burst_once(
    browser: httpx.Client, store: Engine, world: World, clock: FrozenClock
) -> None:
    for n in range(5):  # from five addresses: only the account's count reaches the limit
        assert attempt(browser, "alice", WRONG, f"10.0.1.{n}") == 303
    assert audited(store, "user.sign_in_failed") == 5
    assert retry_after(browser, "alice", "10.0.2.1") == 2  # the right password, not checked
    for _ in range(30):
        assert attempt(browser, "alice", PASSWORD, "10.0.2.2") == 429
    assert audited(store, "user.sign_in_failed") == 5  # nothing written per blocked attempt
    assert audited(store, "user.sign_in_throttled") == 1
    delays = []
    for _ in range(4):  # each failure after the limit doubles the wait
        clock.advance(timedelta(seconds=retry_after(browser, "alice", "10.0.2.3")))
        assert attempt(browser, "alice", WRONG, "10.0.2.4") == 303
        delays.append(retry_after(browser, "alice", "10.0.2.5"))
    assert delays == [4, 8, 16, 32]
    assert audited(store, "user.sign_in_throttled") == 1  # once per burst
    clock.advance(timedelta(seconds=32))
    assert attempt(browser, "alice", PASSWORD, "10.0.2.6") == 200  # waited: checked, signed in
    assert attempt(browser, "alice", WRONG, "10.0.2.7") == 303  # and the account starts afresh


def test_it_blocks_an_address_that_tries_many_accounts(
    browser: httpx.Client, store: Engine, world: World
) -> None:
    for name in ("root", "admin", "mona", "bob", "carol"):
        assert attempt(browser, name, WRONG, "192.0.2.7") == 303
    assert attempt(browser, "alice", PASSWORD, "192.0.2.7") == 429  # a new account: blocked
    assert attempt(browser, "alice", PASSWORD, "192.0.2.8") == 200  # elsewhere: in
    with session_scope(store) as s:
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "user.sign_in_throttled")
        ).scalar_one()
        assert entry.details == {"failures": {"addr:192.0.2.7": 5}}


def test_it_holds_across_workers_sharing_the_store(
    browser: httpx.Client, store: Engine, world: World, clock: FrozenClock
) -> None:
    for _ in range(5):
        assert attempt(browser, "alice", WRONG) == 303
    other_worker: FastAPI = create_app(store, clock, secret="test-secret")
    from starlette.testclient import TestClient

    with TestClient(other_worker, base_url="http://127.0.0.1") as web:
        page = web.get("/login")
        answer = web.post(
            "/login",
            data={"username": "alice", "password": PASSWORD, "csrf": csrf_of(page.text)},
            follow_redirects=False,
        )
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "2"


def test_it_caps_the_delay() -> None:
    assert [delay_after(n).total_seconds() for n in (1, 4, 5, 6, 7)] == [0, 0, 2, 4, 8]
    assert delay_after(13) == timedelta(seconds=512) and delay_after(14) == CAP
    assert delay_after(10**6) == CAP == timedelta(minutes=15)


def test_it_throttles_the_clis_password_proof_too(
    store: Engine, world: World, tmp_path: Path
) -> None:
    env = environment(tmp_path / "home", store.url.render_as_string(hide_password=False))
    ack = ["incidents", "ack", str(world.incident_a), "--admin", "alice"]

    def proof(password: str) -> Ran:
        ran = run_cli(ack, {**env, "OPSBINDER_ADMIN_PASSWORD": password})
        assert "Traceback" not in ran.output, str(ran)
        return ran

    for _ in range(5):
        ran = proof(WRONG)
        assert ran.code == 4 and "unknown user or wrong password" in ran.err, str(ran)
    with session_scope(store) as s:  # the 5th blocked the account for 2 s (a CLI run is slower)
        row = s.get(SignInFailures, "user:alice")
        assert row is not None and row.failures == 5 and row.blocked_until is not None
        # four more failures, as the web counts them: blocked for 32 s
        for _ in range(4):
            sign_in_throttle.failed(s, SystemClock(), ["user:alice"], username="alice")
    ran = proof(PASSWORD)  # the right one, not checked
    assert ran.code == 4 and "too many failed sign-ins; try again in" in ran.err, str(ran)
    assert audited(store, "user.sign_in_failed") == 5
    assert audited(store, "user.sign_in_throttled") == 1
    with session_scope(store) as s:
        assert s.get(Incident, world.incident_a).state == "triggered"  # type: ignore[union-attr]
