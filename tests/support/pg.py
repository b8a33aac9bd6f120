"""PostgreSQL for tests: a private database per use, dropped when the session ends."""

from __future__ import annotations

import os
import uuid

import psycopg2
from psycopg2 import sql

ADMIN_URL = os.environ.get("OPSBINDER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_created: list[str] = []


def _connect():  # type: ignore[no-untyped-def]
    conn = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    conn.autocommit = True
    return conn


def unavailable_reason() -> str | None:
    try:
        _connect().close()
    except psycopg2.Error as exc:
        return str(exc).strip().splitlines()[0]
    return None


def create_database(purpose: str) -> str:
    """Create an empty database and return its SQLAlchemy URL."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    name = f"ob_{purpose}_{worker}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()
    _created.append(name)
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    return f"{base}/{name}"


def drop_database(name: str) -> None:
    conn = _connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    finally:
        conn.close()


def drop_created_databases() -> None:
    if not _created or unavailable_reason() is not None:
        return
    while _created:
        drop_database(_created.pop())
