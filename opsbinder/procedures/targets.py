"""A client's database as purge and archive see it: connected through the URL its binder names,
and its tables known only through reflection.

Identifiers in a binder are data, not SQL: every table and column a destructive procedure
touches is looked up in the reflected schema first, and SQLAlchemy quotes it. A name that does
not exist stops the run before a single row is touched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Table,
    UniqueConstraint,
    cast,
    create_engine,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy import MetaData as _MetaData
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.ddl import ExecutableDDLElement
from sqlalchemy.types import Date, DateTime, NullType, TypeEngine

from opsbinder.config.models import DatabaseSystem
from opsbinder.errors import OpsbinderError
from opsbinder.procedures.context import ProcedureContext


class TargetError(OpsbinderError):
    """The client's database or a name in the binder does not match what is really there."""


def connect(
    ctx: ProcedureContext, system: DatabaseSystem | None, *, connections: int = 4
) -> Engine:
    """An engine for the client's database, holding at most `connections` connections."""
    where = f"{ctx.client_id}/{ctx.procedure_id}"
    if system is None or getattr(system, "type", None) != "database":
        raise TargetError(f"{where}: system must name a database system (type: database)")
    url = ctx.secret(system.url_env, field_name=f"systems[{system.id}].url_env")
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise TargetError(
            f"{where}: the variable {system.url_env} (systems[{system.id}].url_env) "
            "does not hold a database URL"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        return create_engine(parsed, connect_args={"timeout": 30})
    return create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=connections - 2)


def reflect(
    engine: Engine,
    ctx: ProcedureContext,
    *,
    schema: str | None,
    table: str,
    columns: dict[str, str],
    lean: bool = False,
) -> Table:
    """The table from the live schema; `columns` maps binder field -> column name to check.

    `lean` (PostgreSQL): the columns' names, the primary key and the types of the `columns`
    from one catalog query instead of SQLAlchemy's full reflection (indexes, constraints,
    comments, domains, enums: ten queries, 30-95 ms); when a checked column's type is other
    than a timestamp or a date, the full reflection after all."""
    where = f"{ctx.client_id}/{ctx.procedure_id}"
    qualified = f"{schema}.{table}" if schema else table
    try:
        found = _lean(engine, schema, table, set(columns.values())) if lean else None
        if found is not None:
            reflected = found
        elif not inspect(engine).has_table(table, schema=schema):
            raise TargetError(
                f"{where}: params.table: no table {qualified!r} in the client's database"
            )
        else:
            reflected = Table(table, _MetaData(), schema=schema, autoload_with=engine)
    except NoSuchTableError as exc:
        raise TargetError(
            f"{where}: params.table: no table {qualified!r} in the client's database"
        ) from exc
    except SQLAlchemyError as exc:
        raise TargetError(f"{where}: cannot read the client's database: {exc}") from exc
    for field_name, column in columns.items():
        if column not in reflected.c:
            raise TargetError(
                f"{where}: params.{field_name}: table {qualified!r} has no column {column!r} "
                f"(it has: {', '.join(reflected.c.keys())})"
            )
    return reflected


_LEAN_TYPES: dict[str, TypeEngine[Any]] = {
    "timestamp with time zone": DateTime(timezone=True),
    "timestamp without time zone": DateTime(),
    "date": Date(),
}
_TYPE_ARGS = re.compile(r"\(\d+\)")


def _lean(engine: Engine, schema: str | None, table: str, checked: set[str]) -> Table | None:
    """The table with its columns' names and primary key, the `checked` columns typed; None
    when not PostgreSQL, no such table, or a checked column of another type (the caller then
    reflects in full)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
                "coalesce(a.attnum = ANY (i.indkey), false) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
                "AND NOT a.attisdropped "
                "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
                "WHERE c.relname = :table AND n.nspname = coalesce(:schema, current_schema()) "
                "AND c.relkind IN ('r', 'p', 'f', 'v', 'm') ORDER BY a.attnum"
            ),
            {"table": table, "schema": schema},
        ).all()
    columns = []
    for name, type_name, in_key in rows:
        kind: TypeEngine[Any] = NullType()
        if name in checked:
            known = _LEAN_TYPES.get(_TYPE_ARGS.sub("", type_name or ""))
            if known is None:
                return None
            kind = known
        columns.append(Column(name, kind, primary_key=bool(in_key)))
    return Table(table, _MetaData(), *columns, schema=schema) if columns else None


def is_unique(table: Table, columns: Sequence[str]) -> bool:
    """Whether the schema guarantees `columns` together are unique: a primary key, unique index
    or constraint on them or on some of them. Archive deletes by key, so a duplicate key could
    take an unarchived row along."""
    key = set(columns)
    uniques = [[c.name for c in table.primary_key.columns]]
    uniques += [[c.name for c in i.columns] for i in table.indexes if i.unique]
    uniques += [
        [c.name for c in con.columns]
        for con in table.constraints
        if isinstance(con, UniqueConstraint)
    ]
    return any(names and set(names) <= key for names in uniques)


def cutoff_value(column: Column[Any], cutoff: datetime) -> datetime | date:
    """The cutoff in the column's own terms: naive UTC for naive timestamps, a date for dates
    (the date where the cutoff is given: 1 January in the client's zone for a year's end)."""
    utc_cutoff = cutoff.astimezone(UTC)
    if isinstance(column.type, DateTime) and not column.type.timezone:
        return utc_cutoff.replace(tzinfo=None)
    if isinstance(column.type, Date) and not isinstance(column.type, DateTime):
        return cutoff.date()
    return utc_cutoff


class DetachPartition(ExecutableDDLElement):
    """`ALTER TABLE parent DETACH PARTITION child`, both names quoted by the dialect: a
    partition's name is data (it may hold `:`, `%` or quotes), never SQL text."""

    def __init__(self, parent: Table, child: Table) -> None:
        self.parent, self.child = parent, child


@compiles(DetachPartition)
def _detach_partition(element: DetachPartition, compiler: Any, **kw: Any) -> str:
    quote = compiler.preparer
    return (
        f"ALTER TABLE {quote.format_table(element.parent)} "
        f"DETACH PARTITION {quote.format_table(element.child)}"
    )


def attached_to(engine: Engine, parent: Table, schema: str, name: str) -> bool | None:
    """Whether table schema.name is a partition of `parent` now; None: no such table."""
    qualified = engine.dialect.identifier_preparer.format_table(parent)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid "
                "AND i.inhparent = to_regclass(:parent)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :name"
            ),
            {"parent": qualified, "schema": schema, "name": name},
        ).first()
    return None if row is None else bool(row[0])


def expired_partitions(
    engine: Engine, partitions: list[Partition], age: Column[Any], cut: datetime | date
) -> list[Partition]:
    """Partitions whose upper bound is at or before the cutoff: every row in them expired."""
    expired: list[Partition] = []
    if not partitions:
        return expired
    with engine.connect() as conn:
        for part in partitions:
            if part.upper is None:
                continue
            if conn.execute(select(cast(literal(part.upper), age.type) <= cut)).scalar():
                expired.append(part)
    return expired


@dataclass(frozen=True)
class Partition:
    schema: str
    name: str
    upper: str | None  # the literal of the range's upper bound; None: MAXVALUE or DEFAULT
    bound: str | None = None  # as PostgreSQL spells it: FOR VALUES FROM (...) TO (...)


def is_partitioned(engine: Engine, table: Table) -> bool:
    if engine.dialect.name != "postgresql":
        return False
    qualified = engine.dialect.identifier_preparer.format_table(table)
    with engine.connect() as conn:
        kind = conn.execute(
            text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": qualified}
        ).scalar()
    return kind == "p"


_PART_KEY = re.compile(r"^RANGE \((.+)\)$")
_UPPER = re.compile(r"TO \('(.*)'\)\s*$")


def range_partitions(engine: Engine, table: Table, age_column: str) -> list[Partition] | None:
    """The partitions of a PostgreSQL table range-partitioned on `age_column`, else None."""
    if engine.dialect.name != "postgresql":
        return None
    qualified = engine.dialect.identifier_preparer.format_table(table)
    with engine.connect() as conn:
        keydef = conn.execute(
            text(
                "SELECT pg_get_partkeydef(c.oid) FROM pg_class c "
                "WHERE c.oid = to_regclass(:t) AND c.relkind = 'p'"
            ),
            {"t": qualified},
        ).scalar()
        if keydef is None:
            return None
        match = _PART_KEY.match(keydef)
        if match is None or match.group(1).strip('"') != age_column:
            return None
        rows = conn.execute(
            text(
                "SELECT n.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid) "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"
            ),
            {"t": qualified},
        ).all()
    found = []
    for schema, name, bound in rows:
        upper = _UPPER.search(bound or "")
        found.append(Partition(schema, name, upper.group(1) if upper else None, bound))
    return found


def remaining(
    engine: Engine, age: Column[Any], cut: datetime | date, now: datetime
) -> dict[str, Any]:
    """What the run left behind, measured by the run itself for the evidence pack: the oldest
    remaining row's age value and age, and whether any row older than the cutoff is left (the
    database decides, in the column's own terms, so a text or naive column compares as stored).
    """
    # one walk of the age index: rows older than the cutoff are left exactly when the oldest
    # row is older than it. (A purge leaves its deleted rows' index entries to be stepped over
    # by the next reader, so each walk from the index's start costs as much as a batch.)
    oldest_row = select(func.min(age).label("oldest")).select_from(age.table).subquery()
    try:
        with engine.connect() as conn:
            oldest, left = conn.execute(
                select(oldest_row.c.oldest, oldest_row.c.oldest < cut)
            ).one()
    except SQLAlchemyError as exc:
        return {"oldest_remaining_error": str(exc).splitlines()[0][:300]}
    return {
        "oldest_remaining": _plain_age(oldest),
        "oldest_remaining_age_days": _age_days(oldest, now),
        "older_than_cutoff_left": bool(left),
    }


def _plain_age(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return None if value is None else str(value.isoformat() if isinstance(value, date) else value)


def _age_days(value: Any, now: datetime) -> float | None:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return round((now - aware).total_seconds() / 86400, 2)
    if isinstance(value, date):
        return float((now.date() - value).days)
    return None
