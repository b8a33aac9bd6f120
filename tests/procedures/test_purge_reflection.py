"""Purge reads its table from PostgreSQL's catalog in one query: the same names, primary key and
age type as SQLAlchemy's full reflection, and the full reflection whenever the age column's type
is not a timestamp or a date."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Date, DateTime, text
from sqlalchemy.types import NullType

from opsbinder.procedures import purge, targets
from tests.procedures.conftest import purge_proc


@pytest.fixture
def pg_db(client_db: Any) -> Any:
    if client_db.backend != "postgresql":
        pytest.skip("the catalog query is PostgreSQL's; SQLite reflects as before")
    return client_db


def _both(db: Any, make_ctx: Any, schema: str | None, table: str, age: str) -> tuple[Any, Any]:
    kw = {"schema": schema, "table": table, "columns": {"age_column": age}}
    return (
        targets.reflect(db.engine, make_ctx(), lean=True, **kw),
        targets.reflect(db.engine, make_ctx(), **kw),
    )


@pytest.mark.parametrize(
    ("declared", "kind", "zoned"),
    [
        ("timestamptz", DateTime, True),
        ("timestamp(3) with time zone", DateTime, True),
        ("timestamp", DateTime, False),
        ("date", Date, None),
    ],
)
def test_it_reads_what_the_full_reflection_reads(pg_db, make_ctx, declared, kind, zoned) -> None:  # type: ignore[no-untyped-def]
    with pg_db.engine.begin() as conn:
        conn.execute(text('CREATE SCHEMA "Fleet"'))
        conn.execute(
            text(
                f'CREATE TABLE "Fleet"."Pings %" (site int, seq int, note text, '
                f'"Seen At" {declared} NOT NULL, PRIMARY KEY (site, seq))'
            )
        )
        conn.execute(text('ALTER TABLE "Fleet"."Pings %" DROP COLUMN note'))
    lean, full = _both(pg_db, make_ctx, "Fleet", "Pings %", "Seen At")
    assert lean.c.keys() == full.c.keys() == ["site", "seq", "Seen At"]
    assert [c.name for c in lean.primary_key] == [c.name for c in full.primary_key]
    age = lean.c["Seen At"].type
    assert isinstance(age, kind) and isinstance(full.c["Seen At"].type, kind)
    if zoned is not None:
        assert age.timezone is zoned and full.c["Seen At"].type.timezone is zoned  # type: ignore[attr-defined]
    assert isinstance(lean.c["site"].type, NullType)  # the lean read: only the age is typed


def test_it_reflects_in_full_an_age_column_of_another_type(pg_db, make_ctx) -> None:  # type: ignore[no-untyped-def]
    with pg_db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE stamped (id int PRIMARY KEY, stamp text NOT NULL)"))
    lean, full = _both(pg_db, make_ctx, None, "stamped", "stamp")
    assert type(lean.c.stamp.type) is type(full.c.stamp.type)
    assert not isinstance(lean.c.stamp.type, NullType)


def test_a_missing_table_or_column_is_refused_as_before(pg_db, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    pg_db.fill(clock.now(), old=3, new=0)
    result = purge.run(make_ctx(), purge_proc(age_column="seen_at"), pg_db.system)
    assert result.findings == [
        "nordhafen/purge-tracking-events: params.age_column: table 'tracking_events' has no "
        "column 'seen_at' (it has: id, truck, recorded_at)"
    ]
    result = purge.run(make_ctx(), purge_proc(table="tracking"), pg_db.system)
    assert "params.table: no table 'tracking' in the client's database" in result.findings[0]
    assert pg_db.count() == 3
