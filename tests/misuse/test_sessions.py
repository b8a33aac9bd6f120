"""Sessions that end when they should, tried from outside: the app served by uvicorn on a real
port, driven over HTTP, and the installed `opsbinder` script in a subprocess.

A copied session cookie (everything the browser holds, copied to another client) posts a note
before; after logout, a password change, the account's disabling, a revocation, too long idle or
too long alive, the same cookie posts nothing and is sent to the login page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, ConsoleSession, IncidentEvent
from tests.cli.installed import Ran, environment, run_cli
from tests.web.conftest import World, csrf_of, sign_in

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def clock() -> FrozenClock:
    """Now, frozen: the CLI in a subprocess reads the system clock, the server this one."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def browser(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, headers={"User-Agent": "Firefox/140 (test)"}) as web:
        yield web


def copy_of(browser: httpx.Client, live_server: str) -> httpx.Client:
    """Another client holding every cookie the browser holds: a stolen or shared cookie."""
    return httpx.Client(base_url=live_server, cookies=dict(browser.cookies.items()))


def notes(store: Engine, incident: int) -> int:
    with session_scope(store) as s:
        return int(
            s.execute(
                select(func.count())
                .select_from(IncidentEvent)
                .where(IncidentEvent.incident_id == incident, IncidentEvent.kind == "note")
            ).scalar_one()
        )


def posts_note(client: httpx.Client, store: Engine, incident: int) -> bool:
    """Post a note through the console form; True if it was stored, False if sent to login."""
    before = notes(store, incident)
    page = client.get(f"/console/incidents/{incident}", follow_redirects=False)
    if page.status_code == 303:
        assert page.headers["location"].startswith("/login"), page.headers
        return False
    answer = client.post(
        f"/console/incidents/{incident}/note",
        data={"csrf": csrf_of(page.text), "message": "still here"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:300]
    stored = notes(store, incident)
    if answer.headers["location"].startswith("/login"):
        assert stored == before
        return False
    assert stored == before + 1
    return True


def cli(store: Engine, tmp_path: Path, line: str, stdin: str = "") -> Ran:
    env = environment(
        tmp_path / "home", store.url.render_as_string(hide_password=False), OPSBINDER_ACTOR="lena"
    )
    ran = run_cli(line.split(), env, stdin=stdin)
    assert "Traceback" not in ran.output, str(ran)
    return ran


def audited(store: Engine, action: str) -> list[AuditEntry]:
    with session_scope(store) as s:
        rows = s.execute(select(AuditEntry).where(AuditEntry.action == action)).scalars()
        return [row for row in rows if s.expunge(row) is None]


def test_it_ends_a_copied_cookie_at_logout(
    browser: httpx.Client, live_server: str, store: Engine, world: World
) -> None:
    sign_in(browser)
    with copy_of(browser, live_server) as thief:
        assert posts_note(thief, store, world.incident_a)  # the copy works while signed in
        page = browser.get("/console/incidents")
        browser.post("/logout", data={"csrf": csrf_of(page.text)})
        assert not posts_note(thief, store, world.incident_a)
    assert not posts_note(browser, store, world.incident_a)
    assert [e.actor for e in audited(store, "user.signed_out")] == ["alice"]


def test_it_keeps_only_a_hash_of_the_id_the_cookie_holds(
    browser: httpx.Client, store: Engine, world: World
) -> None:
    sign_in(browser)
    session_id = browser.cookies["opsbinder_session"]
    assert len(session_id) >= 40 and "alice" not in session_id
    with session_scope(store) as s:
        row = s.execute(select(ConsoleSession)).scalar_one()
        stored = [str(getattr(row, c.key)) for c in ConsoleSession.__table__.columns]
    assert session_id not in " ".join(stored)
    assert row.user_agent == "Firefox/140 (test)" and row.address == "127.0.0.1"


def test_it_ends_every_session_when_the_password_changes(
    browser: httpx.Client, live_server: str, store: Engine, world: World, tmp_path: Path
) -> None:
    sign_in(browser)
    with copy_of(browser, live_server) as thief:
        assert posts_note(thief, store, world.incident_a)
        ran = cli(store, tmp_path, "users password alice --password-stdin", NEW_PASSWORD + "\n")
        assert ran.code == 0 and "1 session(s) ended" in ran.out, str(ran)
        assert NEW_PASSWORD not in ran.output
        assert not posts_note(thief, store, world.incident_a)
    assert not posts_note(browser, store, world.incident_a)
    sign_in(browser, password=NEW_PASSWORD)
    assert posts_note(browser, store, world.incident_a)
    (entry,) = audited(store, "user.password_changed")
    assert entry.actor == "lena" and NEW_PASSWORD not in str(entry.details)


def test_it_ends_every_session_when_the_account_is_disabled(
    browser: httpx.Client, live_server: str, store: Engine, world: World, tmp_path: Path
) -> None:
    sign_in(browser)
    with copy_of(browser, live_server) as thief:
        assert posts_note(thief, store, world.incident_a)
        ran = cli(store, tmp_path, "users disable alice")
        assert ran.code == 0 and "1 session(s) ended" in ran.out, str(ran)
        assert not posts_note(thief, store, world.incident_a)
        # enabled again, the old cookie stays dead; a fresh sign-in works
        assert cli(store, tmp_path, "users enable alice").code == 0
        assert not posts_note(thief, store, world.incident_a)
    sign_in(browser)
    assert posts_note(browser, store, world.incident_a)
    assert [e.action for e in audited(store, "user.disabled")] == ["user.disabled"]
    assert [e.action for e in audited(store, "user.enabled")] == ["user.enabled"]


def test_it_refuses_a_disabled_user_at_sign_in(
    browser: httpx.Client, store: Engine, world: World, tmp_path: Path
) -> None:
    assert cli(store, tmp_path, "users disable alice").code == 0
    with pytest.raises(AssertionError):
        sign_in(browser)
    assert not posts_note(browser, store, world.incident_a)


def test_it_lists_a_users_sessions_and_revokes_them(
    browser: httpx.Client, live_server: str, store: Engine, world: World, tmp_path: Path
) -> None:
    sign_in(browser)
    with httpx.Client(base_url=live_server, headers={"User-Agent": "Chromium/1"}) as laptop:
        sign_in(laptop)
        listed = cli(store, tmp_path, "users sessions alice")
        assert listed.code == 0 and "2 open session(s)" in listed.out, str(listed)
        assert "Firefox/140" in listed.out and "Chromium/1" in listed.out
        assert "127.0.0.1" in listed.out
        ran = cli(store, tmp_path, "users sessions alice --revoke-all")
        assert ran.code == 0 and "2 session(s) of alice ended" in ran.out, str(ran)
        assert not posts_note(laptop, store, world.incident_a)
    assert not posts_note(browser, store, world.incident_a)
    assert "0 open session(s)" in cli(store, tmp_path, "users sessions alice").out
    (entry,) = audited(store, "user.sessions_revoked")
    assert entry.actor == "lena" and entry.details == {"sessions_ended": 2}


def test_it_ends_a_session_idle_too_long_and_one_alive_too_long(
    browser: httpx.Client, store: Engine, world: World, clock: FrozenClock
) -> None:
    sign_in(browser)
    clock.advance(timedelta(minutes=119))
    assert posts_note(browser, store, world.incident_a)  # active: the idle limit starts again
    clock.advance(timedelta(minutes=119))
    assert posts_note(browser, store, world.incident_a)
    clock.advance(timedelta(minutes=121))
    assert not posts_note(browser, store, world.incident_a)  # 2 hours without a request

    sign_in(browser)
    for _ in range(11):  # busy all day: a request every hour
        clock.advance(timedelta(hours=1))
        assert posts_note(browser, store, world.incident_a)
    clock.advance(timedelta(hours=1))
    assert not posts_note(browser, store, world.incident_a)  # 12 hours after sign-in
    with session_scope(store) as s:
        assert s.execute(select(func.count()).select_from(ConsoleSession)).scalar_one() == 2


@pytest.mark.parametrize(
    ("line", "stdin", "code", "says"),
    [
        ("users disable nobody", "", 3, "no user 'nobody'"),
        ("users enable nobody", "", 3, "no user 'nobody'"),
        ("users sessions nobody", "", 3, "no user 'nobody'"),
        ("users password nobody --password-stdin", NEW_PASSWORD, 3, "no user 'nobody'"),
        ("users password alice --password-stdin", "short\n", 2, "at least 10 characters"),
        ("users password alice --password-stdin", "", 2, "held no password"),
        ("users password alice", "", 2, "no password"),
    ],
)
def test_it_refuses_what_cannot_be_done_with_the_exit_code_of_the_readme(
    store: Engine, world: World, tmp_path: Path, line: str, stdin: str, code: int, says: str
) -> None:
    ran = cli(store, tmp_path, line, stdin)
    assert ran.code == code and says in ran.output, str(ran)
    assert audited(store, "user.password_changed") == []


def test_it_ends_the_old_session_when_the_browser_signs_in_again(
    browser: httpx.Client, live_server: str, store: Engine, world: World
) -> None:
    sign_in(browser)
    with copy_of(browser, live_server) as old:
        sign_in(browser, "mona")  # another user at the same browser
        assert not posts_note(old, store, world.incident_a)
    assert posts_note(browser, store, world.incident_a)
    with session_scope(store) as s:
        reasons = s.execute(select(ConsoleSession.end_reason).order_by(ConsoleSession.id))
        assert list(reasons.scalars()) == ["signed in again", ""]
