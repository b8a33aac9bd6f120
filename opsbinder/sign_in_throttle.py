"""Sign-in throttling, per account and per address, with delays that grow.

The first `FREE_FAILURES` failed sign-ins of an account (or from an address) within a burst
cost nothing; each one after that blocks the account (or address) for twice as long as the
last, from 2 seconds up to `CAP`. While blocked, a sign-in is answered at once without checking
the password, so guessing gets nowhere and writes no audit entry per attempt; the throttling
itself is audited once per burst. A burst ends after `BURST_ENDS` without a failure.

The counts live in the store (`sign_in_failures`), so several web workers count together; each
change is one UPDATE whose row lock orders concurrent failures.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Update, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock, utc
from opsbinder.store.models import SignInFailures

FREE_FAILURES = 5
CAP = timedelta(minutes=15)
BURST_ENDS = timedelta(hours=1)


def account_key(username: str) -> str:
    """The account named, known or not: probing names is guessing too."""
    return f"user:{username.strip().lower()[:100]}"


def keys(username: str, address: str) -> list[str]:
    """What a web sign-in counts: the account and the address the attempt came from."""
    return [account_key(username), f"addr:{address[:64]}"]


def delay_after(failures: int) -> timedelta:
    """How long a key is blocked after its `failures`-th failure of the burst."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    exponent = min(failures - FREE_FAILURES + 1, 20)
    return min(timedelta(seconds=2**exponent), CAP)


def retry_after(session: Session, clock: Clock, counted: list[str]) -> int | None:
    """Whole seconds until a sign-in may be tried again, or None when it may be now."""
    now = utc(clock.now())
    blocked = session.execute(
        select(SignInFailures.blocked_until).where(
            SignInFailures.key.in_(counted), SignInFailures.blocked_until.is_not(None)
        )
    ).scalars()
    until = max((utc(b) for b in blocked if b is not None and utc(b) > now), default=None)
    return None if until is None else max(1, math.ceil((until - now).total_seconds()))


def failed(session: Session, clock: Clock, counted: list[str], *, username: str) -> None:
    """Count a failed sign-in against every key; block those past the free failures, and put
    on record the keys whose burst this blocks first."""
    now = utc(clock.now())
    announced: dict[str, int] = {}
    for key in counted:
        failures, was_announced = _count(session, key, now)
        if failures < FREE_FAILURES:
            continue
        session.execute(
            _change()
            .where(SignInFailures.key == key)
            .values(blocked_until=now + delay_after(failures))
        )
        if not was_announced and _announce(session, key):
            announced[key] = failures
    if announced:
        audit.record(
            session,
            clock,
            actor=username[:100] or "?",
            action="user.sign_in_throttled",
            object_type="user",
            object_id=username[:100],
            details={"failures": announced},
        )


def succeeded(session: Session, username: str) -> None:
    """A right password ends the account's burst; the address keeps its count, or one valid
    account would let its holder guess the others' passwords without limit."""
    session.execute(delete(SignInFailures).where(SignInFailures.key == account_key(username)))


def _change() -> Update:
    """An UPDATE of the counts, in SQL only: a row the session happens to hold is not compared
    in Python (SQLite hands back naive times) nor kept in step."""
    return update(SignInFailures).execution_options(synchronize_session=False)


def _count(session: Session, key: str, now: datetime) -> tuple[int, bool]:
    """One more failure for the key (a new burst if the last failure is long past)."""
    values = {"key": key, "failures": 0, "last_failure_at": now, "announced": False}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(SignInFailures).values(**values).on_conflict_do_nothing())
    session.execute(
        _change()
        .where(SignInFailures.key == key, SignInFailures.last_failure_at <= now - BURST_ENDS)
        .values(failures=0, announced=False, blocked_until=None)
    )
    row = session.execute(
        _change()
        .where(SignInFailures.key == key)
        .values(failures=SignInFailures.failures + 1, last_failure_at=now)
        .returning(SignInFailures.failures, SignInFailures.announced)
    ).one()
    return int(row.failures), bool(row.announced)


def _announce(session: Session, key: str) -> bool:
    """True for exactly one of several workers that block the same key in the same burst."""
    result = session.execute(
        _change()
        .where(SignInFailures.key == key, SignInFailures.announced.is_(False))
        .values(announced=True)
    )
    return bool(getattr(result, "rowcount", 0))
