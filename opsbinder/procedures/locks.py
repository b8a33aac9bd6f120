"""One run of a destructive procedure at a time, per client and procedure.

PostgreSQL targets use an advisory lock held by a dedicated session for the whole run: the
server releases it if the process dies, so a crash never leaves a stale lock. SQLite targets
use flock on a file under OPSBINDER_HOME/locks, which the kernel releases the same way. The
holder writes when it took the lock where a second run can read it (the session's
application_name, the lock file's content), so "skipped" can say since when.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from opsbinder.clock import Clock, utc
from opsbinder.settings import get_settings


@dataclass(frozen=True)
class Held:
    """The lock is taken by another run; `since` is when (ISO, UTC) if the holder told us."""

    name: str
    since: str | None

    @property
    def reason(self) -> str:
        since = f" since {self.since}" if self.since else ""
        return f"another run of {self.name} holds the lock{since}"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock(bigint)."""
    digest = hashlib.sha256(f"opsbinder:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def procedure_lock(engine: Engine, name: str, clock: Clock) -> Iterator[Held | None]:
    """Yields None while this run holds the lock, or `Held` when another run does."""
    since = utc(clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
    if engine.dialect.name == "postgresql":
        with _advisory(engine, name, since) as held:
            yield held
    else:
        with _file_lock(name, since) as held:
            yield held


@contextmanager
def _advisory(engine: Engine, name: str, since: str) -> Iterator[Held | None]:
    key = lock_key(name)
    conn = engine.connect()
    try:
        conn.execute(
            text("SELECT set_config('application_name', :n, false)"),
            {"n": f"opsbinder lock since {since}"},
        )
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        conn.commit()
        if not got:
            yield Held(name, _holder_since(conn, key))
            return
        try:
            yield None
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
    finally:
        conn.close()


def _holder_since(conn: Connection, key: int) -> str | None:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    app = conn.execute(
        text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo "
            "AND l.objsubid = 1 LIMIT 1"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
    ).scalar()
    conn.commit()
    prefix = "opsbinder lock since "
    return app[len(prefix) :] if app and app.startswith(prefix) else None


@contextmanager
def _file_lock(name: str, since: str) -> Iterator[Held | None]:
    folder = get_settings().home / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name.replace("/", "__") + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield Held(name, _read_since(path))
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, since.encode(), 0)
        try:
            yield None
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_since(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None
