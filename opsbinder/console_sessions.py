"""Console sign-ins kept in the store, so that each ends the moment it should.

The browser's cookie holds only a random id; the store keeps that id's SHA-256 (as for tokens),
so neither a copy of the database nor a guess resumes a sign-in. A session ends at logout; all
of a user's sessions end when the password changes or the account is disabled; and one ends by
itself after `session_idle_minutes` without a request and `session_hours` after it began,
however busy. A copied cookie is therefore dead at the next request after any of these.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.accounts import hash_token
from opsbinder.clock import Clock, utc
from opsbinder.settings import get_settings
from opsbinder.store.models import ConsoleSession, User

# Writing last_seen_at on every page view would make each one a write; a minute is precise
# enough for an idle limit counted in minutes or hours.
_SEEN_RESOLUTION = timedelta(minutes=1)
_MAX_ID_LENGTH = 100


@dataclass(frozen=True)
class Opened:
    """The only moment the plain id exists: it goes into the cookie, its hash into the store."""

    session_id: str
    row: ConsoleSession


def open_session(
    session: Session, clock: Clock, user: User, *, address: str, user_agent: str
) -> Opened:
    now = utc(clock.now())
    session_id = secrets.token_urlsafe(32)
    row = ConsoleSession(
        id_hash=hash_token(session_id),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=get_settings().session_hours),
        address=address[:64],
        user_agent=user_agent.replace("\x00", "")[:300],  # a header is any client's to write
    )
    session.add(row)
    session.flush()
    return Opened(session_id, row)


def _ended_by_time(row: ConsoleSession, now: datetime) -> str | None:
    if utc(row.expires_at) <= now:
        return "expired"
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if utc(row.last_seen_at) + idle <= now:
        return "idle"
    return None


def resolve(
    session: Session, clock: Clock, session_id: str | None
) -> tuple[ConsoleSession, User] | None:
    """The live session and its active user for a cookie's id; None for anything else."""
    if not session_id or len(session_id) > _MAX_ID_LENGTH:
        return None
    row = session.execute(
        select(ConsoleSession).where(ConsoleSession.id_hash == hash_token(session_id))
    ).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    now = utc(clock.now())
    if _ended_by_time(row, now) is not None:  # ended by time: nothing to write, it stays so
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - utc(row.last_seen_at) >= _SEEN_RESOLUTION:
        row.last_seen_at = now
    return row, user


def end(session: Session, clock: Clock, row: ConsoleSession, reason: str) -> None:
    if row.ended_at is None:
        row.ended_at = utc(clock.now())
        row.end_reason = reason


def end_all(session: Session, clock: Clock, user_id: int, reason: str) -> int:
    """End every open session of a user at once; how many there were."""
    result = session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utc(clock.now()), end_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_all(session: Session, clock: Clock, user: User, *, actor: str) -> int:
    """An operator ends a user's sessions (a lost laptop, a shared screen): on record."""
    ended = end_all(session, clock, user.id, "revoked")
    audit.record(
        session,
        clock,
        actor=actor,
        action="user.sessions_revoked",
        object_type="user",
        object_id=user.username,
        details={"sessions_ended": ended},
    )
    return ended


def active(session: Session, clock: Clock, user_id: int) -> list[ConsoleSession]:
    """A user's sessions that would still let a request in, oldest first."""
    now = utc(clock.now())
    rows = session.execute(
        select(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .order_by(ConsoleSession.id)
    ).scalars()
    return [row for row in rows if _ended_by_time(row, now) is None]
