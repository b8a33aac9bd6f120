"""The key archive deletes, pages and restores by: one column, or several unique together.

A range-partitioned PostgreSQL table cannot have a unique index without its partition key, so
a binder may name several columns (`key_column: [receipt_id, sold_at]`). One column keeps its
plain form everywhere, so manifests of earlier runs stay readable (`key_min: 17`); several are
compared as one row value `(receipt_id, sold_at)` in SQL, as tuples in Python and as lists in
manifests, in the order the binder gives them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import ColumnElement, Table, and_, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from opsbinder.procedures import archive_files as files

# Bound values one statement may carry: SQLite's default limit is 32,766 (999 before 3.32),
# PostgreSQL's wire protocol 65,535. A key list of several columns binds one value per column.
MAX_BINDS = 30000


def names_of(spelled: Any) -> list[str]:
    """The key's columns as a manifest or a binder spells them: a name, or a list of names."""
    return [spelled] if isinstance(spelled, str) else list(spelled)


@dataclass(frozen=True)
class Key:
    table: Table
    names: tuple[str, ...]

    @classmethod
    def of(cls, table: Table, spelled: Any) -> Key:
        return cls(table, tuple(names_of(spelled)))

    @property
    def composite(self) -> bool:
        return len(self.names) > 1

    @property
    def columns(self) -> list[Any]:
        return [self.table.c[n] for n in self.names]

    @property
    def spelled(self) -> str | list[str]:
        """How manifests name the key: a plain name for one column, as they always did."""
        return list(self.names) if self.composite else self.names[0]

    @property
    def label(self) -> str:
        return f"({', '.join(self.names)})" if self.composite else self.names[0]

    @property
    def expr(self) -> ColumnElement[Any]:
        return tuple_(*self.columns) if self.composite else self.columns[0]

    def of_row(self, row: Mapping[Any, Any]) -> Any:
        if self.composite:
            return tuple(row[n] for n in self.names)
        return row[self.names[0]]

    def after(self, last: Any) -> ColumnElement[bool]:
        later: ColumnElement[bool] = self.expr > last
        return later

    def within(self, lo: Any, hi: Any) -> ColumnElement[bool]:
        return and_(self.expr >= lo, self.expr <= hi)

    def among(self, keys: Sequence[Any], *, pg_array: bool = False) -> ColumnElement[bool]:
        """Exactly these keys; `pg_array`: one column's keys as one PostgreSQL array value
        (a bind per key costs more than the delete)."""
        if pg_array and not self.composite:
            column = self.columns[0]
            array = bindparam("keys", list(keys), type_=ARRAY(column.type))
            one_of: ColumnElement[bool] = column == any_(array)
            return one_of
        listed: ColumnElement[bool] = self.expr.in_(list(keys))
        return listed

    def fitting(self, most: int) -> int:
        """At most `most` keys, and few enough that `among` stays within MAX_BINDS bound
        values (with room for a few more in the same statement)."""
        return max(1, min(most, (MAX_BINDS - 10) // len(self.names)))

    def chunks(self, keys: Sequence[Any], most: int) -> Iterator[Sequence[Any]]:
        """`keys` in runs of `fitting(most)` keys."""
        size = self.fitting(most)
        for start in range(0, len(keys), size):
            yield keys[start : start + size]

    @overload
    def arrays(self, conn: Any, keys: Any) -> list[Any]: ...
    @overload
    def arrays(self, conn: Any, keys: Any, *, ages: Any) -> tuple[list[Any], tuple[Any, Any]]: ...
    def arrays(
        self, conn: Any, keys: Any, *, ages: Any = None
    ) -> list[Any] | tuple[list[Any], tuple[Any, Any]]:
        """The keys of a subquery or CTE of key columns, in key order, fetched as one array per
        column (PostgreSQL: several times faster than a row per key); with `ages`, that column
        of it too, as its oldest and newest value."""
        order = [c for c in keys.c if c is not ages]
        extent = [func.min(ages), func.max(ages)] if ages is not None else []
        found = conn.execute(
            select(*[func.array_agg(aggregate_order_by(c, *order)) for c in order], *extent)
        ).one()
        arrays = found[: len(order)]
        if arrays[0] is None:
            listed: list[Any] = []
        else:
            listed = list(zip(*arrays, strict=True)) if self.composite else list(arrays[0])
        return listed if ages is None else (listed, (found[-2], found[-1]))

    def plain(self, value: Any) -> Any:
        """The JSON form of a key (a list for several columns)."""
        if self.composite:
            return [files.plain(v) for v in value]
        return files.plain(value)

    def decode(self, value: Any) -> Any:
        """A key from its JSON form, in the columns' own types."""
        if self.composite:
            return tuple(files.decode(v, c) for v, c in zip(value, self.columns, strict=True))
        return files.decode(value, self.columns[0])

    def file_label(self, value: Any) -> str:
        """A key's part of an archive file's name."""
        if self.composite:
            return "_".join(files.key_label(v) for v in value)
        return files.key_label(value)
