"""Rows written by PostgreSQL's COPY: the fast way out of the client's database for archives.

JSON Lines come from row_to_json: CSV mode with quote and delimiter bytes that JSON never
contains passes each JSON text through as is. CSV spells NULL `\\N`, as archive_files reads it.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import Select, func, literal_column, select


def copy_out(conn: Any, rows: Select[Any], order: list[str], fmt: str) -> bytes:
    """The rows of `rows` (ordered by the columns named in `order`) in the archive `fmt`."""
    out = io.BytesIO()
    copy_into(conn, rows, order, fmt, out)
    return out.getvalue()


def copy_into(conn: Any, rows: Select[Any], order: list[str], fmt: str, out: Any) -> None:
    """`copy_out`, written piece by piece into `out` as the server sends it: a whole
    partition goes through a compressor to disk without ever being held in memory."""
    if fmt == "jsonl":
        inner = rows.subquery("t")
        query = select(func.row_to_json(literal_column("t"))).select_from(inner)
        query = query.order_by(*[inner.c[n] for n in order])
        options = "FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02'"
    else:
        query, options = rows, "FORMAT csv, HEADER true, NULL '\\N'"
    compiled = query.compile(dialect=conn.dialect)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        sql = cursor.mogrify(str(compiled), compiled.params).decode()
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH ({options})", out)
    finally:
        cursor.close()
