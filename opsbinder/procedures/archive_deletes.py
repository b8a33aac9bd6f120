"""How archive deletes the rows of a verified file: exactly those rows, in short transactions.

On PostgreSQL a batch is exported in a REPEATABLE READ transaction that stays open, its snapshot
exported (`pg_export_snapshot`), until the batch's rows are deleted. Each delete transaction
imports that snapshot and deletes by the export's own condition (the chunk's key range, age
before the cutoff). A REPEATABLE READ DELETE sees only rows visible in its snapshot, and fails
(serialization failure) on any of them another transaction changed or deleted since; so it
deletes exactly the file's rows, each as the file holds it, or nothing. Its row count is checked
against the chunk's all the same. No key is shipped or returned: the plan is the plain DELETE's
over a range (a key-checked delete returning its keys cost ~3x the baseline's DELETE).

Anything else (the snapshot's transaction gone, a row changed since the export, another count)
rolls the chunk back, and it is deleted as recovery deletes a file's keys: by key range,
returning the deleted keys and committing only if every one is archived, then the archived keys
the range missed; or by the exact key list.

Commits: a chunk's commit before its batch's last is asynchronous (synchronous_commit off). If
the server loses it in a crash, its rows are back in the source while the manifest is not marked
done, and the next run's recovery deletes them by key again: nothing is archived twice. The last
commit is synchronous whatever the server's default, and flushes every earlier one (commits
reach the WAL in order); only then is the manifest marked done. A lost delete behind a done mark
would let a later run export the rows a second time, unknown to the manifest.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from opsbinder.errors import OpsbinderError
from opsbinder.procedures.dead_entries import DeadEntries

if TYPE_CHECKING:
    from opsbinder.procedures.archive import Archive


HELD = 3  # export snapshots open at once: the batch being deleted and two ahead of it
CONNECTIONS = HELD + 3  # to the client's database: and the lock, the deletes, the walk


class SnapshotsClosed(OpsbinderError):
    """The run is ending: no new export snapshot is held (raised in an export thread whose
    batch nobody will take)."""


@dataclass
class Held:
    """An export's REPEATABLE READ transaction, open until its batch's rows are deleted."""

    number: int
    conn: Connection | None = None
    snapshot: str = ""  # pg_export_snapshot(): what the delete transactions import
    ages: tuple[Any, Any] = (None, None)  # the batch's oldest and newest age
    ready: bool = field(default=False)  # exported: only ever closed from now on


class Snapshots:
    """The export snapshots held open, and the walks of deleted ranges waiting for them.

    An index entry can be marked dead only once no snapshot can see its row, and a later batch's
    snapshot, taken before this batch's delete committed, still sees it: the walk over a batch's
    ages (dead_entries) waits until every snapshot begun by then is closed.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.behind: DeadEntries | None = None
        self._lock = threading.Lock()
        self._begun = 0
        self._open: dict[int, Held] = {}
        self._walks: list[tuple[int, tuple[Any, Any]]] = []
        self._closed = False
        self._room = threading.BoundedSemaphore(HELD)

    def hold(self) -> Held:
        """A new REPEATABLE READ transaction (in the exporting thread), once fewer than HELD
        are open."""
        while not self._room.acquire(timeout=0.05):
            if self._closed:
                raise SnapshotsClosed("archive run ending")
        with self._lock:
            if self._closed:
                self._room.release()
                raise SnapshotsClosed("archive run ending")
            self._begun += 1
            held = Held(self._begun)
            self._open[held.number] = held
        try:
            conn = self.engine.connect().execution_options(isolation_level="REPEATABLE READ")
            held.conn = conn
            conn.begin()
        except BaseException:
            self.release(held)
            raise
        return held

    def exported(self, held: Held, snapshot: str, ages: tuple[Any, Any]) -> None:
        with self._lock:
            if self._closed:
                raise SnapshotsClosed("archive run ending")
            held.snapshot, held.ages, held.ready = snapshot, ages, True

    def release(self, held: Held | None) -> None:
        if held is None:
            return
        if held.conn is not None:
            with contextlib.suppress(Exception):  # read only: ending it cannot lose anything
                held.conn.close()
        with self._lock:
            was_open = self._open.pop(held.number, None) is not None
        if was_open:
            self._room.release()
        self._fire()

    def walk_after(self, ages: tuple[Any, Any]) -> None:
        """The rows of ages `ages` (both included) were deleted: walk them when no snapshot
        begun until now can still see them."""
        if ages[0] is None:
            return
        with self._lock:
            self._walks.append((self._begun, ages))
        self._fire()

    def close(self) -> None:
        """Once the exporting threads are stopped: end every exported snapshot, walk the rest."""
        with self._lock:
            self._closed = True
            ready = [h for h in self._open.values() if h.ready]
        for held in ready:
            self.release(held)
        self._fire(everything=True)
        self.behind = None

    def _fire(self, *, everything: bool = False) -> None:
        with self._lock:
            oldest = self._begun + 1 if everything else min(self._open, default=self._begun + 1)
            due = [ages for begun, ages in self._walks if begun < oldest]
            self._walks = [(begun, ages) for begun, ages in self._walks if begun >= oldest]
            behind = self.behind
        if behind is not None:
            for ages in due:
                behind.deleted_between(*ages)


def delete_keys(
    job: Archive, keys: list[Any], cut: Any, chunk_size: int, held: Held | None = None
) -> None:
    """Delete exactly these archived keys of rows still older than `cut`, `chunk_size` keys
    (fewer for a key of many columns: Key.chunks) a transaction; from `held`'s snapshot when
    given (PostgreSQL)."""
    pg = job.engine.dialect.name == "postgresql"
    chunks = list(job.key.chunks(keys, chunk_size))
    try:
        with job.engine.connect() as conn:
            for n, chunk in enumerate(chunks):
                durable = n == len(chunks) - 1
                if not pg:
                    with conn.begin():
                        gone = conn.execute(
                            job.table.delete().where(job.key.among(chunk), job.age < cut)
                        ).rowcount
                else:
                    found = _from_snapshot(job, conn, chunk, cut, held, durable)
                    gone = found if found is not None else _checked(job, conn, chunk, cut, durable)
                job.metrics["rows_deleted"] += gone
                job.step("mid_delete")
        if held is not None:
            job.snapshots.walk_after(held.ages)
    finally:
        job.snapshots.release(held)


def _commits(conn: Connection, durable: bool) -> None:
    """This transaction's commit: synchronous for a batch's last, asynchronous before it."""
    conn.exec_driver_sql(f"SET LOCAL synchronous_commit TO {'on' if durable else 'off'}")


def _from_snapshot(
    job: Archive, conn: Connection, chunk: Sequence[Any], cut: Any, held: Held | None, durable: bool
) -> int | None:
    """The chunk's rows deleted in the export's snapshot, or None if that did not delete
    exactly them (rolled back)."""
    if held is None or not held.snapshot:
        return None
    trans = conn.begin()
    try:
        conn.exec_driver_sql(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT %(s)s",
            {"s": held.snapshot},
        )
        _commits(conn, durable)
        # chunk[0] and chunk[-1]: the database's order, as the export wrote the file
        span = job.key.within(chunk[0], chunk[-1])
        gone = conn.execute(job.table.delete().where(span, job.age < cut)).rowcount
        if gone == len(chunk):
            trans.commit()
            return int(gone)
        trans.rollback()
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        if trans.is_active:
            trans.rollback()
    except BaseException:
        if trans.is_active:
            trans.rollback()
        raise
    job.metrics["chunks_deleted_by_key"] = job.metrics.get("chunks_deleted_by_key", 0) + 1
    return None


def _checked(job: Archive, conn: Connection, chunk: Sequence[Any], cut: Any, durable: bool) -> int:
    """Delete by key range (one index range scan, ten times faster than a key list), and
    commit only if every deleted key is one of the archived ones, then delete the archived keys
    the range did not hold (none, unless the file's order is not the key's order in SQL);
    otherwise a row appeared in the range since the export, so roll back and delete the exact
    key list instead."""
    expired = job.age < cut
    archived = set(chunk)
    trans = conn.begin()
    try:
        _commits(conn, durable)
        deleted = (
            job.table.delete()
            .where(job.key.within(chunk[0], chunk[-1]), expired)
            .returning(*job.key.columns, job.age.label("_age"))
            .cte("gone")
        )
        # the deleted keys as arrays: a row per key costs more than the delete
        gone, ages = job.key.arrays(conn, deleted, ages=deleted.c["_age"])
        if archived.issuperset(gone):
            trans.commit()
            job.snapshots.walk_after(ages)
            rest = archived.difference(gone) if len(gone) < len(archived) else set()
            return len(gone) + (_exactly(job, conn, sorted(rest), cut, durable) if rest else 0)
        trans.rollback()
    except BaseException:
        if trans.is_active:
            trans.rollback()
        raise
    return _exactly(job, conn, chunk, cut, durable)


def _exactly(job: Archive, conn: Connection, keys: Sequence[Any], cut: Any, durable: bool) -> int:
    with conn.begin():
        _commits(conn, durable)
        exact = job.key.among(keys, pg_array=True)
        return int(conn.execute(job.table.delete().where(exact, job.age < cut)).rowcount)
