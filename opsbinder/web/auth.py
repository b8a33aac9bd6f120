"""Who is asking: a signed-in staff member (console) or a bearer token with scopes (API)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.accounts import resolve_token
from opsbinder.store.models import Incident, User
from opsbinder.web.app import DB, clock_of

# Who may pause a schedule: people who can judge the consequences of a skipped duty.
PAUSERS = {"L2", "L3", "manager", "admin"}


def staff_user(request: Request, session: Session) -> User | None:
    user_id = request.session.get("user_id")
    if user_id is None:
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active:
        request.session.pop("user_id", None)
        return None
    return user


class LoginRequired(Exception):
    """Raised by console pages without a signed-in user; answered with a redirect to /login."""


def require_staff(request: Request, session: Session = DB) -> User:
    user = staff_user(request, session)
    if user is None:
        raise LoginRequired()
    return user


@dataclass(frozen=True)
class Principal:
    """The caller of an API request, as its token says."""

    actor: str
    scopes: frozenset[str]
    client_id: str | None  # None: every client (staff tokens)

    def sees(self, client_id: str) -> bool:
        return self.client_id is None or self.client_id == client_id


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
    actor = f"token:{row.prefix}"
    if row.user_id is not None:
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            raise HTTPException(401, "the token's user is disabled", headers=challenge)
        actor = f"{user.username} (token {row.prefix})"
    return Principal(actor, frozenset(row.scopes), row.client_id)


def scoped(scope: str):  # type: ignore[no-untyped-def]
    def check(principal: Principal = Depends(api_principal)) -> Principal:
        if scope not in principal.scopes:
            raise HTTPException(403, f"the token lacks the scope {scope!r}")
        return principal

    return check


def visible_incident(session: Session, principal: Principal, incident_id: int) -> Incident:
    """The incident, or 404 when it does not exist or belongs to a client the caller can't see."""
    incident = session.get(Incident, incident_id)
    if incident is None or not principal.sees(incident.client_id):
        raise HTTPException(404, f"no incident #{incident_id}")
    return incident
