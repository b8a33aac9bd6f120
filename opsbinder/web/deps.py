"""What a request depends on: its store session, the clock, and who is asking.

The app factory puts the engine, clock and launcher on `app.state`; everything here reads them
from the request, so routes never import the app module (and the app imports the routes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.accounts import resolve_token
from opsbinder.actions.procedures import Launcher
from opsbinder.authorization import Principal, require_scope
from opsbinder.clock import Clock
from opsbinder.errors import Refused
from opsbinder.store.db import session_scope
from opsbinder.store.models import User
from opsbinder.web import run_now, sessions


def db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error
    (a refusal's audit entry is still written: see `session_scope`)."""
    with session_scope(request.app.state.engine) as session:
        yield session


# Committed when the handler returns and before the response goes out, so the page a redirect
# leads to always sees the change.
DB = Depends(db, scope="function")

# A row id in a path: bounded to what both stores can hold, so a huge number is a 422, not a 500.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def clock_of(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def launcher_of(request: Request) -> Launcher:
    """How "run now" starts a run here: the app's seam (tests), else a flow process."""
    seam: Launcher | None = request.app.state.launcher
    return seam if seam is not None else run_now.launch_subprocess


# --- the console: a signed-in staff member ---------------------------------------------------


class LoginRequired(Refused):
    """Raised by console pages without a signed-in user; answered with a redirect to /login."""


def require_staff(request: Request, session: Session = DB) -> User:
    user = sessions.signed_in(request, session, clock_of(request))
    if user is None:
        raise LoginRequired()
    return user


def console_principal(user: User = Depends(require_staff)) -> Principal:
    return Principal.of_user(user, "console")


# --- the API: a bearer token ------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="an opsbinder API token (obk_...)")


def api_principal(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    session: Session = DB,
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers=challenge)
    row = resolve_token(session, clock_of(request), credentials.credentials)
    if row is None:
        raise HTTPException(401, "the token is unknown, revoked or expired", headers=challenge)
    user = None
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            raise HTTPException(401, "the token's user is disabled", headers=challenge)
    return Principal.of_token(row, user)


def scoped(scope: str) -> Any:
    """A dependency: the API principal, refused (403) unless its token has `scope` to read."""

    def check(principal: Principal = Depends(api_principal)) -> Principal:
        require_scope(principal, scope)
        return principal

    return Depends(check)
