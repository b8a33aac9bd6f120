"""Who is signed in to the console: the one place that starts, reads and ends a sign-in.

The `opsbinder_session` cookie holds only the random id of a server-side session
(`opsbinder.console_sessions`), so logout, a password change or a disabled account ends it at
once, a copied cookie included. It is HttpOnly and SameSite=Lax; `SecureCookies` marks it
Secure over HTTPS. What a browser keeps apart from who it is (the forms' CSRF token, the next
page's message, a status page's remembered link) stays in Starlette's signed state cookie.
"""

from __future__ import annotations

from fastapi import Request, Response
from sqlalchemy.orm import Session

from opsbinder import audit, console_sessions
from opsbinder.clock import Clock
from opsbinder.settings import get_settings
from opsbinder.store.models import ConsoleSession, User

COOKIE = "opsbinder_session"
_FOUND = "console_session"  # request.state: resolved once per request


def start(request: Request, response: Response, session: Session, clock: Clock, user: User) -> None:
    previous = _current(request, session, clock)
    if previous is not None:  # signing in again: the old id is not kept alive beside the new
        console_sessions.end(session, clock, previous[0], "signed in again")
    request.session.clear()  # a fresh CSRF token on every sign-in
    opened = console_sessions.open_session(
        session,
        clock,
        user,
        address=address_of(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    response.set_cookie(
        COOKIE,
        opened.session_id,
        max_age=get_settings().session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
    )
    audit.record(
        session,
        clock,
        actor=user.username,
        action="user.signed_in",
        object_type="user",
        object_id=user.username,
        details={"session": opened.row.id, "address": opened.row.address},
    )


def end(request: Request, response: Response, session: Session, clock: Clock) -> None:
    found = _current(request, session, clock)
    if found is not None:
        row, user = found
        console_sessions.end(session, clock, row, "signed out")
        audit.record(
            session,
            clock,
            actor=user.username,
            action="user.signed_out",
            object_type="user",
            object_id=user.username,
            details={"session": row.id},
        )
    request.session.clear()
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def address_of(request: Request) -> str:
    """The peer's address, or a trusted proxy's X-Forwarded-For (see the `trusted_proxies`
    setting): what sessions record and the sign-in throttle counts."""
    return request.client.host if request.client else ""


def signed_in(request: Request, session: Session, clock: Clock) -> User | None:
    found = _current(request, session, clock)
    return found[1] if found is not None else None


def _current(
    request: Request, session: Session, clock: Clock
) -> tuple[ConsoleSession, User] | None:
    if not hasattr(request.state, _FOUND):
        found = console_sessions.resolve(session, clock, request.cookies.get(COOKIE))
        setattr(request.state, _FOUND, found)
    result: tuple[ConsoleSession, User] | None = getattr(request.state, _FOUND)
    return result
