"""Purge batches by ranges of the table's blocks (PostgreSQL 14 and later), when the expired
rows sit together, as in a table filled in time order.

Batches that each walk a range of the age index (purge's other path) read the index and then
the table for every row: ~1.2x the plain `DELETE ... WHERE age < cutoff`. Here each batch is

    DELETE FROM t WHERE ctid >= '(b0,0)' AND ctid < '(b1,0)' AND age < cutoff

which PostgreSQL runs as a Tid Range Scan reading only blocks b0 to b1 - 1, page after page,
without the index; each transaction stays short.

Which rows go never depends on where they sit: the blocks only choose where to look first.
The range runs from the block of the oldest expired row to that of the newest (or over the
whole table, its size read again at the end to take in blocks appended meanwhile), and any
row below the cutoff left afterwards -- outside the range, written meanwhile into a block
already passed, moved by an update -- is deleted by the age-index batches that follow (purge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Delete,
    Table,
    delete,
    literal_column,
    select,
    text,
)

BLOCKS_FROM = 1000  # smaller tables (8 MB of 8 kB blocks) keep the age-index batches
READ_AT_MOST = 2  # rows read (alive or not) per row to delete, at most, to go by blocks
PAGE_HEADER, TUPLE_OVERHEAD = 24, 28  # bytes: a page's header; a row's header and line pointer


@dataclass(frozen=True)
class Heap:
    blocks: int  # the table's size now, in blocks
    rows_per_block: float  # on average, by the statistics (0: none yet)
    block_size: int

    @property
    def most_rows_per_block(self) -> int:
        """As many rows as fit in a block at all (MaxHeapTuplesPerPage): 291 for 8 kB."""
        return (self.block_size - PAGE_HEADER) // TUPLE_OVERHEAD

    def span(self, rows: int) -> int:
        """Blocks that hold about `rows` rows."""
        per_block = self.rows_per_block or self.most_rows_per_block
        return max(1, int(rows / per_block))


def heap(conn: Connection, table: Table) -> Heap:
    qualified = conn.dialect.identifier_preparer.format_table(table)
    blocks, tuples, pages, block_size = conn.execute(
        text(
            "SELECT pg_relation_size(c.oid) / current_setting('block_size')::int, c.reltuples, "
            "c.relpages, current_setting('block_size')::int FROM pg_class c "
            "WHERE c.oid = to_regclass(:t)"
        ),
        {"t": qualified},
    ).one()
    per_block = float(tuples) / pages if pages > 0 and tuples > 0 else 0.0
    return Heap(int(blocks), per_block, int(block_size))


@dataclass(frozen=True)
class Blocks:
    """The blocks a purge goes through: `first` to `end` - 1, to the table's end (read again
    when reached) when `whole`."""

    first: int
    end: int
    whole: bool
    heap: Heap


def plan(
    conn: Connection, table: Table, age: ColumnElement[Any], cut: Any, planned: int
) -> Blocks | None:
    """The blocks to go through when that reads at most READ_AT_MOST times the rows to delete;
    None: batches on the age index instead (PostgreSQL before 14 has no Tid Range Scan; small
    tables; expired rows scattered over a table mostly kept).

    The blocks of the oldest and the newest expired row (two probes of the age index) bound the
    range: in a table filled in time order, even one whose start was refilled after earlier
    purges, the expired rows lie between them. Rows outside it are not missed, only left to the
    age-index batches that follow (`purge`)."""
    if conn.dialect.server_version_info is None or conn.dialect.server_version_info < (14,):
        return None
    found = heap(conn, table)
    if found.blocks < BLOCKS_FROM:
        return None
    where = age < cut
    ctid: ColumnElement[Any] = literal_column("ctid")
    ends = [
        conn.execute(select(ctid).select_from(table).where(where).order_by(o).limit(1)).scalar()
        for o in (age.asc(), age.desc())
    ]
    if ends[0] is None or ends[1] is None:
        return None
    oldest, newest = (_block(str(e)) for e in ends)
    blocks = (
        Blocks(oldest, newest + 1, False, found)
        if oldest <= newest
        else Blocks(0, found.blocks, True, found)
    )
    per_block = found.rows_per_block or found.most_rows_per_block
    if (blocks.end - blocks.first) * per_block > READ_AT_MOST * max(planned, 1):
        return None
    return blocks


def _block(ctid: str) -> int:
    """The block of a ctid as PostgreSQL prints it: (block,line)."""
    return int(ctid.strip("()").split(",")[0])


def batch(table: Table, where: ColumnElement[bool], first: int, end: int) -> Delete:
    """Delete the rows matching `where` in blocks `first` to `end` - 1."""
    within = text("ctid >= CAST(:first_tid AS tid) AND ctid < CAST(:end_tid AS tid)").bindparams(
        first_tid=f"({first},0)", end_tid=f"({end},0)"
    )
    return delete(table).where(within, where)
