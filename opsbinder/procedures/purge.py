"""Retention on a client table: delete rows older than N days, a little at a time.

Each batch is its own short transaction so the client's application never waits behind a long
lock, and the batch walks the age index from where the previous one stopped (keyset on the age
column) instead of scanning the table again. A batch slower than `max_batch_seconds` shrinks
the next one; fast batches grow it back up to `batch_size`. Expired partitions of a PostgreSQL
table range-partitioned on the age column are detached and dropped whole, which costs nothing
compared with deleting their rows.
"""

from __future__ import annotations

import time
from datetime import UTC
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnClause,
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    Table,
    delete,
    func,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import DropTable

from opsbinder.config.models import DatabaseSystem, PurgeProcedure
from opsbinder.procedures import guarded, plan_guard, purge_blocks, purge_bounds, targets
from opsbinder.procedures.ahead import Ahead
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.dead_entries import DeadEntries
from opsbinder.procedures.result import ProcedureResult


def run(
    ctx: ProcedureContext, proc: PurgeProcedure, system: DatabaseSystem | None
) -> ProcedureResult:
    params = proc.params
    return guarded.run_locked(
        ctx,
        system,
        schema=params.schema_name,
        table=params.table,
        columns={"age_column": params.age_column},
        work=lambda engine, table: Purge(ctx, proc, engine, table).run(),
        lean=True,  # purge needs the age column's type and the primary key, nothing else
    )


class Purge:
    def __init__(
        self, ctx: ProcedureContext, proc: PurgeProcedure, engine: Engine, table: Table
    ) -> None:
        self.ctx, self.params, self.engine, self.table = ctx, proc.params, engine, table
        self.age = table.c[self.params.age_column]
        local_cutoff = self.params.keep.cutoff(ctx.clock.now(), ZoneInfo(ctx.timezone))
        self.cutoff = local_cutoff.astimezone(UTC)
        self.cut = targets.cutoff_value(self.age, local_cutoff)
        self.partitioned: bool | None = None
        self.left: dict[str, Any] | None = None  # what is left, when checked after the batches
        self.cap: float | None = None  # most rows to delete unapproved, when the plan was a guess
        self.metrics: dict[str, Any] = {
            "cutoff": self.cutoff.isoformat(),
            "planned_rows": 0,
            "rows_deleted": 0,
            "batches": 0,
            "longest_batch_ms": 0,
            "partitions_dropped": 0,
        }

    def run(self) -> ProcedureResult:
        partitions = (
            targets.range_partitions(self.engine, self.table, self.params.age_column)
            if self.params.drop_partitions and self._is_partitioned()
            else None
        )
        expired = targets.expired_partitions(self.engine, partitions or [], self.age, self.cut)
        usual = plan_guard.usual_amount(
            self.ctx.store, self.ctx.client_id, self.ctx.procedure_id, "rows_deleted"
        )
        most = plan_guard.limit(
            max_rows=self.params.max_rows, max_growth=self.params.max_growth, usual=usual
        )
        with self.engine.connect() as conn:
            plan = plan_guard.planned_rows(
                conn, self.table, self.age < self.cut, most=None if self.ctx.approve else most
            )
        planned = plan.rows
        self.metrics["planned_rows"] = planned
        if plan.estimated:
            self.metrics["planned_estimated"] = True
            # a stale estimate must not let more than the guard allows through unapproved
            self.cap = None if self.ctx.approve else most
        what = (
            f"{plan.label} rows of {self.params.table} older than {self.cutoff:%Y-%m-%d %H:%M} UTC"
        )
        if expired:
            what += f" ({len(expired)} whole partitions)"
        verdict = plan_guard.check(
            planned,
            max_rows=self.params.max_rows,
            max_growth=self.params.max_growth,
            usual=usual,
            approved=self.ctx.approve or self.ctx.dry_run,
        )
        if self.ctx.dry_run:
            self.metrics["partitions_to_drop"] = len(expired)
            would = plan_guard.check(
                planned,
                max_rows=self.params.max_rows,
                max_growth=self.params.max_growth,
                usual=usual,
                approved=False,
            )
            note = f"; the plan guard would refuse: {would.refusal}" if would.refused else ""
            return ProcedureResult("ok", f"dry run: would delete {what}{note}", self.metrics)
        if verdict.refused:
            reason = f"plan guard refused: {verdict.refusal}"
            return ProcedureResult("failed", reason, self.metrics, [reason])
        try:
            for partition in expired:
                self._drop(partition)
            capped = self._batches(planned)
        except SQLAlchemyError as exc:
            reason = (
                f"purge stopped after {self.metrics['rows_deleted']:,} rows: "
                f"{str(exc).splitlines()[0]}"
            )
            self._audit()
            return ProcedureResult("failed", reason, self.metrics, [reason])
        self._audit()
        if capped:
            reason = (
                f"plan guard: more than the {self.cap:,.0f} rows allowed without approval are "
                f"older than the cutoff (the table's statistics estimated {planned:,}); stopped "
                f"after {self.metrics['rows_deleted']:,} rows; re-run with --approve"
            )
            return ProcedureResult("failed", reason, self.metrics, [reason])
        summary = (
            f"deleted {self.metrics['rows_deleted']:,} rows of {self.params.table} older than "
            f"{self.cutoff:%Y-%m-%d %H:%M} UTC in {self.metrics['batches']} batches"
        )
        if self.metrics["partitions_dropped"]:
            summary += f" and {self.metrics['partitions_dropped']} dropped partitions"
        return ProcedureResult("ok", summary, self.metrics)

    def _drop(self, part: targets.Partition) -> None:
        child = Table(part.name, MetaData(), schema=part.schema)
        with self.engine.begin() as conn:
            rows = conn.execute(select(func.count()).select_from(child)).scalar_one()
            conn.execute(targets.DetachPartition(self.table, child))
            conn.execute(DropTable(child))
        self.metrics["rows_deleted"] += rows
        self.metrics["partitions_dropped"] += 1
        self.metrics.setdefault("partitions", []).append(part.name)

    def _batches(self, planned: int) -> bool:
        """Delete batch after batch; True when stopped at `cap` with expired rows left."""
        size, last = self.params.batch_size, None
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "postgresql":
                # Commits need not wait for the WAL flush: a purge batch lost in a server crash
                # only means its rows are deleted again by the next run. (Archive deletes keep
                # synchronous commits: there a lost delete would mean archiving rows twice.)
                with conn.begin():
                    conn.execute(text("SET synchronous_commit TO off"))
            pg = self.engine.dialect.name == "postgresql"
            if self.cap is None and pg and not self._is_partitioned():
                blocks = purge_blocks.plan(conn, self.table, self.age, self.cut, planned)
                conn.commit()
                if blocks is not None:
                    self._by_blocks(conn, blocks, planned)
                    # the run's check of what is left, once: it walks the age index from its
                    # start, over the deleted rows' entries wherever the walk behind could
                    # not mark them dead (an older snapshot anywhere in the cluster)
                    self.left = self._remaining()
                    if self.left.get("older_than_cutoff_left") is False:
                        return False
                    self.left = None
                    # rows that escaped the blocks: the age index's batches find them
                size, last, finished = self._looking_ahead(conn, size, planned)
                if finished:
                    return False
            while True:
                if self.cap is not None:
                    room = int(self.cap - self.metrics["rows_deleted"])
                    if room <= 0:
                        return self._left(conn, last)
                    size = min(size, room)
                started = time.perf_counter()
                with conn.begin():
                    deleted, newest = self._delete_batch(conn, size, last)
                elapsed = time.perf_counter() - started
                if deleted == 0:
                    return False
                size, last = self._after_batch(deleted, elapsed, size, planned), newest

    def _looking_ahead(self, conn: Connection, size: int, planned: int) -> tuple[int, Any, bool]:
        """Batches of `size` whose bounds another connection finds meanwhile (purge_bounds).

        Returns the next batch size, the last bound deleted up to, and whether everything below
        the cutoff is gone. A slow batch ends it: the smaller batches that follow look up their
        own bounds, so their size applies at once.
        """
        previous: Any = None
        # each batch one statement in its own transaction: no BEGIN and COMMIT round trips,
        # which on a busy server cost more than a short delete
        conn.execution_options(isolation_level="AUTOCOMMIT")
        find = partial(purge_bounds.bounds, self.engine, self.age, self.cut, size)
        with Ahead(find) as found, DeadEntries(self.engine, self.age, self.cut) as behind:
            for bound in found:
                where = [self.age < self.cut]
                if previous is not None:
                    where.append(self.age > previous)
                if bound is not None:
                    where.append(self.age <= bound)
                started = time.perf_counter()
                deleted = conn.execute(delete(self.table).where(*where)).rowcount
                conn.commit()  # ends SQLAlchemy's autobegun marker; autocommit sends nothing
                elapsed = time.perf_counter() - started
                behind.deleted(previous, bound)
                following = self._after_batch(deleted, elapsed, size, planned) if deleted else size
                if bound is None:
                    return following, previous, True
                previous = bound
                if following < size:
                    return following, previous, False
        return size, previous, True  # not reached: the bounds end with None

    def _by_blocks(self, conn: Connection, blocks: purge_blocks.Blocks, planned: int) -> None:
        """Batches of blocks through `blocks` (purge_blocks), the table's end read again when
        reached; each batch spans about `batch_size` rows, fewer after a slow one."""
        conn.execution_options(isolation_level="AUTOCOMMIT")
        self.metrics["batches_by"] = "blocks"
        most = blocks.heap.span(self.params.batch_size)
        span, first, end = most, blocks.first, blocks.end
        with DeadEntries(self.engine, self.age, self.cut) as behind:
            while True:
                if first >= end:
                    if not blocks.whole:
                        return
                    end = purge_blocks.heap(conn, self.table).blocks
                    conn.commit()
                    if first >= end:
                        return
                last = min(first + span, end)
                started = time.perf_counter()
                statement = purge_blocks.batch(self.table, self.age < self.cut, first, last)
                deleted = conn.execute(statement).rowcount
                conn.commit()  # ends SQLAlchemy's autobegun marker; autocommit sends nothing
                elapsed = time.perf_counter() - started
                behind.swept()
                span, first = self._after_batch(deleted, elapsed, span, planned, most), last

    def _left(self, conn: Connection, last: Any) -> bool:
        """Whether expired rows remain at or after `last` (one index probe)."""
        where = [self.age < self.cut] if last is None else [self.age >= last, self.age < self.cut]
        with conn.begin():
            return conn.execute(select(self.age).where(*where).limit(1)).first() is not None

    def _after_batch(
        self, deleted: int, elapsed: float, size: int, planned: int, most: int | None = None
    ) -> int:
        """Record the batch; the next batch's size (smaller after a slow one, at most `most`:
        by default the batch size)."""
        limit, most = self.params.max_batch_seconds, most or self.params.batch_size
        self.metrics["batches"] += 1
        self.metrics["rows_deleted"] += deleted
        self.metrics["longest_batch_ms"] = max(
            self.metrics["longest_batch_ms"], round(elapsed * 1000, 1)
        )
        done = self.metrics["rows_deleted"]
        self.ctx.progress(done, max(planned, done), f"deleted {done:,} rows")
        if elapsed > limit:
            return max(1, int(size * limit / elapsed * 0.8))
        if elapsed < limit / 2 and size < most:
            return min(most, size * 2)
        return size

    def _delete_batch(self, conn: Connection, size: int, last: Any) -> tuple[int, Any]:
        """Delete the `size` oldest expired rows at or after `last` on the age index."""
        where = [self.age < self.cut] if last is None else [self.age >= last, self.age < self.cut]
        if self.engine.dialect.name == "postgresql":
            if not self._is_partitioned():
                return self._delete_range(conn, size, where)
            keys = self._partition_keys()
            # across partitions: the oldest rows' keys (ranges would not prune partitions)
            oldest = select(*keys).where(*where).order_by(self.age).limit(size)
            match = tuple_(*keys).in_(oldest) if len(keys) > 1 else keys[0].in_(oldest)
            gone = delete(self.table).where(match).returning(self.age).cte("gone")
            row = conn.execute(select(func.count(), func.max(gone.c[self.age.name]))).one()
            return row[0], row[1]
        rowid: ColumnClause[Any] = literal_column("rowid")
        oldest = select(rowid).select_from(self.table).where(*where).order_by(self.age).limit(size)
        ages = list(
            conn.execute(delete(self.table).where(rowid.in_(oldest)).returning(self.age)).scalars()
        )
        return len(ages), (max(ages) if ages else None)

    def _delete_range(self, conn: Connection, size: int, where: list[Any]) -> tuple[int, Any]:
        """One range of the age index: find the age `size` rows on, delete up to it.

        The delete then has the plan of the plain `DELETE ... WHERE age < cutoff`, over a short
        range, with no row identifiers sent back and forth. Rows sharing the boundary age go in
        the same batch, so a batch exceeds `size` only by such ties.
        """
        bound = conn.execute(
            select(self.age).where(*where).order_by(self.age).offset(size - 1).limit(1)
        ).scalar()
        if bound is None:
            return conn.execute(delete(self.table).where(*where)).rowcount, None
        deleted = conn.execute(delete(self.table).where(*where, self.age <= bound)).rowcount
        return deleted, bound

    def _is_partitioned(self) -> bool:
        if self.partitioned is None:
            self.partitioned = targets.is_partitioned(self.engine, self.table)
        return bool(self.partitioned)

    def _partition_keys(self) -> list[ColumnElement[Any]]:
        """The primary key across partitions (ctid alone is not unique there)."""
        pk: list[ColumnElement[Any]] = list(self.table.primary_key.columns)
        return pk or [literal_column("tableoid"), literal_column("ctid")]

    def _remaining(self) -> dict[str, Any]:
        return targets.remaining(self.engine, self.age, self.cut, self.ctx.clock.now())

    def _audit(self) -> None:
        self.metrics.update(self.left or self._remaining())
        self.ctx.audit("purge.delete", {k: v for k, v in self.metrics.items() if k != "partitions"})
