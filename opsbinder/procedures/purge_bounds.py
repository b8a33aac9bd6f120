"""Where each purge batch ends, looked up one batch ahead on a second connection.

A batch is one range of the age index, `previous bound < age <= bound`, where `bound` is the age
`size` rows on. Finding it is an index scan of `size` entries: a sixth of the purge's time when
done before each delete. Here a thread finds the next bound while the current batch deletes, on
a range the delete does not touch, so the two overlap (PostgreSQL runs them on two cores). The
bounds are only positions in the index: a row inserted meanwhile in a range still ahead is
deleted with it; the last range is everything left below the cutoff.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from types import TracebackType
from typing import Any

from sqlalchemy import ColumnElement, Engine, select

_END = object()


class Lookahead:
    """Successive bounds of batches of `size` rows below `cut`, computed one ahead.

    `next()` returns the next bound, or None for "the rest" (fewer than `size` rows were left).
    """

    def __init__(self, engine: Engine, age: ColumnElement[Any], cut: Any, size: int) -> None:
        self.engine, self.age, self.cut, self.size = engine, age, cut, size
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="purge-bounds", daemon=True)

    def __enter__(self) -> Lookahead:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)  # let a blocked put finish

    def next(self) -> Any:
        kind, value = self._queue.get()
        if kind == "error":
            raise value
        return value

    def _run(self) -> None:
        try:
            # autocommit: one round trip per lookup, no BEGIN and COMMIT around it
            auto = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with auto as conn:
                previous: Any = _END
                while not self._stop.is_set():
                    where = [self.age < self.cut]
                    if previous is not _END:
                        where.append(self.age > previous)
                    bound = conn.execute(
                        select(self.age)
                        .where(*where)
                        .order_by(self.age)
                        .offset(self.size - 1)
                        .limit(1)
                    ).scalar()
                    self._put(("bound", bound))
                    if bound is None:
                        return
                    previous = bound
        except Exception as exc:  # handed to the deleting thread, which raises it
            self._put(("error", exc))

    def _put(self, item: tuple[str, Any]) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue
