"""Staff accounts and access tokens.

Passwords are kept as argon2id hashes; tokens are random and only their SHA-256 is stored, so a
copy of the database signs nobody in. A status-page token belongs to exactly one client and can
read only that client's page; API tokens carry scopes and may also be tied to one client.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock, utc
from opsbinder.errors import BadInput, NotFound, Refused
from opsbinder.store.models import AccessToken, Client, User

ROLES = ("L1", "L2", "L3", "manager", "admin")
SCOPES = (
    "incidents:read",
    "incidents:write",
    "updates:write",
    "procedures:read",
    "procedures:run",
    "status:read",
)
STATUS_SCOPES = ("status:read",)
# Touching last_used_at on every request would turn each page view into a write.
_LAST_USED_RESOLUTION = timedelta(minutes=5)
_hasher = PasswordHasher()


@dataclass(frozen=True)
class IssuedToken:
    """The only moment the plain token exists: show it once, store only the hash."""

    token: str
    row: AccessToken


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise BadInput(f"role: {role!r} is not one of {', '.join(ROLES)}")


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise BadInput("password: must be at least 10 characters long")


def add_user(
    session: Session,
    clock: Clock,
    *,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    actor: str,
) -> User:
    _check_role(role)
    _check_password(password)
    if (
        not username
        or len(username) > 100
        or not username.replace("-", "").replace(".", "").replace("_", "").isalnum()
    ):
        raise BadInput(f"username: {username!r} must be 1-100 letters, digits, '.', '-' or '_'")
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Refused(f"username: {username!r} exists already")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        created_at=utc(clock.now()),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        clock,
        actor=actor,
        action="user.added",
        object_type="user",
        object_id=username,
        details={"role": role},
    )
    return user


def _existing(session: Session, username: str) -> User:
    user = user_by_name(session, username)
    if user is None:
        raise NotFound(f"user: no user {username!r}")
    return user


def _end_sessions(session: Session, clock: Clock, user: User, reason: str) -> int:
    # imported here: console_sessions hashes its ids with this module's hash_token
    from opsbinder import console_sessions

    return console_sessions.end_all(session, clock, user.id, reason)


def set_password(
    session: Session, clock: Clock, *, username: str, password: str, actor: str
) -> int:
    """A new password, and every console session of the user ended (a copied cookie with
    them); returns how many were open."""
    _check_password(password)
    user = _existing(session, username)
    user.password_hash = hash_password(password)
    ended = _end_sessions(session, clock, user, "password changed")
    audit.record(
        session,
        clock,
        actor=actor,
        action="user.password_changed",
        object_type="user",
        object_id=username,
        details={"sessions_ended": ended},
    )
    return ended


def set_active(session: Session, clock: Clock, *, username: str, active: bool, actor: str) -> int:
    """Disable (every console session ended, tokens of the user refused) or enable again;
    returns how many sessions were ended. Doing what is already so changes and records nothing."""
    user = _existing(session, username)
    if user.active == active:
        return 0
    user.active = active
    ended = 0 if active else _end_sessions(session, clock, user, "account disabled")
    audit.record(
        session,
        clock,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        object_type="user",
        object_id=username,
        details={} if active else {"sessions_ended": ended},
    )
    return ended


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password matches and the account is active; None otherwise."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        _hasher_dummy_verify(password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: an argon2 hash is 0.2 s of CPU every CLI command paid."""
    return _hasher.hash("opsbinder-timing-equaliser")


def _hasher_dummy_verify(password: str) -> None:
    # Spend the same time on unknown users so sign-in timing does not reveal usernames.
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)


def _new_token(kind: str) -> str:
    if kind == "integration":
        # 32 characters like a PagerDuty routing key: tools that check the length accept it
        return "obi_" + secrets.token_hex(14)
    return ("obs_" if kind == "status_page" else "obk_") + secrets.token_urlsafe(32)


def issue_api_token(
    session: Session,
    clock: Clock,
    *,
    name: str,
    scopes: list[str],
    actor: str,
    client_id: str | None = None,
    username: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise BadInput(
            f"scopes: {', '.join(unknown) or '(none)'} not valid; choose from {', '.join(SCOPES)}"
        )
    return _issue(session, clock, "api", name, scopes, actor, client_id, username, expires_at)


def issue_status_token(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    name: str,
    actor: str,
    expires_at: datetime | None = None,
) -> IssuedToken:
    return _issue(
        session, clock, "status_page", name, list(STATUS_SCOPES), actor, client_id, None, expires_at
    )


def issue_integration_key(
    session: Session, clock: Clock, *, client_id: str, name: str, actor: str
) -> IssuedToken:
    """A monitoring tool's key: it may only send events and alerts for its one client."""
    if not name.strip() or len(name) > 200:
        raise BadInput(f"name: {name[:50]!r} must be 1-200 characters")
    return _issue(session, clock, "integration", name, [], actor, client_id, None, None)


def integration_key(session: Session, clock: Clock, key: object) -> AccessToken | None:
    """The live integration key row (its client, its name); None for any other key or none."""
    if not isinstance(key, str):
        return None
    row = resolve_token(session, clock, key)
    if row is None or row.kind != "integration" or row.client_id is None:
        return None
    return row


def _issue(
    session: Session,
    clock: Clock,
    kind: str,
    name: str,
    scopes: list[str],
    actor: str,
    client_id: str | None,
    username: str | None,
    expires_at: datetime | None,
) -> IssuedToken:
    if client_id is not None and session.get(Client, client_id) is None:
        raise NotFound(f"client: no client {client_id!r} in the store (opsbinder load first)")
    user_id = None
    if username is not None:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"user: no user {username!r}")
        user_id = user.id
    token = _new_token(kind)
    row = AccessToken(
        token_hash=hash_token(token),
        prefix=token[:12],
        name=name,
        kind=kind,
        client_id=client_id,
        user_id=user_id,
        scopes=sorted(scopes),
        created_at=utc(clock.now()),
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        clock,
        actor=actor,
        action="token.issued",
        object_type="access_token",
        object_id=row.prefix,
        client_id=client_id,
        details={"kind": kind, "name": name, "scopes": row.scopes},
    )
    return IssuedToken(token, row)


def resolve_token(session: Session, clock: Clock, token: str | None) -> AccessToken | None:
    """The live token row for a presented token, or None (unknown, revoked or expired)."""
    if not token or len(token) > 200:
        return None
    row = session.execute(
        select(AccessToken).where(AccessToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    now = utc(clock.now())
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and utc(row.expires_at) <= now:
        return None
    if row.last_used_at is None or now - utc(row.last_used_at) > _LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row


def revoke_token(session: Session, clock: Clock, *, prefix: str, actor: str) -> AccessToken:
    rows = list(session.execute(select(AccessToken).where(AccessToken.prefix == prefix)).scalars())
    if not rows:
        raise NotFound(f"token: no token starting {prefix!r}")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = utc(clock.now())
        audit.record(
            session,
            clock,
            actor=actor,
            action="token.revoked",
            object_type="access_token",
            object_id=row.prefix,
            client_id=row.client_id,
            details={"kind": row.kind, "name": row.name},
        )
    return row


def list_tokens(session: Session) -> list[AccessToken]:
    return list(session.execute(select(AccessToken).order_by(AccessToken.id)).scalars())


def user_by_name(session: Session, username: str) -> User | None:
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()
