"""Engines and sessions for the store, SQLite by default and PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from opsbinder.errors import Forbidden, OpsbinderError, StoreError
from opsbinder.settings import get_settings


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see below)
    cursor = dbapi_connection.cursor()
    # WAL lets the web app read while a flow writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
    # A deferred transaction that reads and then writes can fail at once with "database is
    # locked" when another writer got there first; taking the write lock up front makes it wait.
    # A read-only scope (`read_scope`) never writes, so it takes no lock and waits for no writer.
    read_only = connection.get_execution_options().get(_READ_ONLY)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_READ_ONLY = "opsbinder_read_only"


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        # the user's setting, not an unreachable store: bad input (exit 2)
        raise OpsbinderError(f"OPSBINDER_DATABASE_URL is not a database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store's folder {folder}: {exc}") from exc
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # Never wait long for an unreachable host: a flow's hook would hang with it (the hook then
    # spools the report instead), and a CLI user would see nothing for minutes.
    connect_args = {"connect_timeout": 10} if parsed.get_driver_name() == "psycopg2" else {}
    return create_engine(
        url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=connect_args
    )


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    return make_engine(url)


def default_engine() -> Engine:
    return engine_for(get_settings().store_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    A refusal (`Forbidden`) is the one error that leaves a trace: after the rollback its record
    (the audit entry) is written in a transaction of its own, once however many scopes it crosses.
    """
    factory = sessionmaker(engine or default_engine(), expire_on_commit=False)
    with factory() as session:
        try:
            with session.begin():
                yield session
        except Forbidden as exc:
            record, exc.record = exc.record, None
            if record is not None:
                with session.begin():
                    record(session)
            raise


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it takes no write lock, so a long read (a large
    status page) neither waits for writers nor makes them, or other readers, wait for it. It
    reads one snapshot; a write in it is a programming error (SQLite may refuse it at once)."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session, session.begin():
        session.connection(execution_options={_READ_ONLY: True})  # before its BEGIN
        yield session
