"""The purged rows' index entries, stepped over once right behind the deletes.

A DELETE leaves each row's entry in the age index until some later scan finds the row gone and
marks the entry dead; until then every reader that walks the range visits the table for each
one. After a purge that first reader is the run's own evidence check (`targets.remaining`: is
any row older than the cutoff left?), which then walked a million dead entries: a third of the
purge's time. Here a thread on its own connection walks each range as soon as its batch has
committed, on the other core while the next batch deletes, so the final check and the client's
own queries find the entries already marked. The walk reads and changes no row: if it fails,
the purge is only as slow as before, so its errors end the walk and nothing else.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

_END = None
_SWEEP = object()  # as a range's lower end: rows deleted wherever they sat (purge by blocks)


class _Including:
    """A range's lower end that belongs to it."""

    def __init__(self, value: Any) -> None:
        self.value = value


class DeadEntries:
    """`with DeadEntries(engine, age, cut) as behind: ... behind.deleted(lo, hi)` after each
    committed batch of `lo < age <= hi` (None: open end); leaving waits for the walk to finish."""

    def __init__(self, engine: Engine, age: ColumnElement[Any], cut: Any) -> None:
        self.engine, self.age, self.cut = engine, age, cut
        self._ranges: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._walk, name="dead-entries", daemon=True)

    def __enter__(self) -> DeadEntries:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._ranges.put(_END)
        self._thread.join()

    def deleted(self, low: Any, high: Any) -> None:
        self._ranges.put((low, high))

    def deleted_between(self, oldest: Any, newest: Any) -> None:
        """Rows of ages `oldest` to `newest`, both included, were deleted (by key: archive)."""
        self._ranges.put((_Including(oldest), newest))

    def swept(self) -> None:
        """Rows below the cutoff were deleted wherever they sat (a batch of blocks, whose ages
        are not known): walk from the oldest entry not yet walked to the first live row. In a
        table filled in time order each walk takes in the batch just deleted; elsewhere it
        stops early and leaves the rest to the run's own check."""
        self._ranges.put((_SWEEP, None))

    def _walk(self) -> None:
        live: Any = None  # the oldest live row the last sweep found: entries before it are walked
        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                while (deleted := self._ranges.get()) is not _END:
                    if deleted[0] is _SWEEP:
                        where = [self.age < self.cut]
                        if live is not None:
                            where.append(self.age >= live)
                        found = conn.execute(select(func.min(self.age)).where(*where)).scalar()
                        live = live if found is None else found
                        continue
                    conn.execute(select(func.min(self.age)).where(*self._within(*deleted)))
        except SQLAlchemyError:
            while self._ranges.get() is not _END:  # drain: the purge goes on without the walk
                pass

    def _within(self, low: Any, high: Any) -> list[ColumnElement[bool]]:
        where = [self.age < self.cut]
        if isinstance(low, _Including):
            where.append(self.age >= low.value)
        elif low is not None:
            where.append(self.age > low)
        if high is not None:
            where.append(self.age <= high)
        return where
