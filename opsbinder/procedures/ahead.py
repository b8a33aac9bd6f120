"""Run a producer one item ahead of its consumer, in a thread of its own.

Purge looks up the next batch's bound while the current batch deletes; archive exports the next
batch while the current one is compressed, written, verified and deleted. Database work, the
disk and compression then overlap instead of waiting for one another. Only production runs
ahead: whatever the consumer does with an item (write a file, delete rows) stays in its own
thread and order, so the crash-safety argument of each procedure is unchanged. An exception in
the producer is raised in the consumer at the item it would have produced.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class Ahead(Generic[T]):
    """`with Ahead(produce) as items: for item in items: ...` where `produce()` is an iterator
    run in another thread, at most `depth` items ahead. Leaving the block stops the producer
    after the item it is making (its resources are released by its own `with` blocks)."""

    def __init__(self, produce: Callable[[], Iterator[T]], *, depth: int = 1) -> None:
        self._produce = produce
        self._queue: queue.Queue[tuple[object, T | BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ahead", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._items()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)  # let a blocked put see the stop

    def _items(self) -> Iterator[T]:
        while True:
            tag, value = self._queue.get()
            if tag is _DONE:
                return
            if isinstance(value, BaseException):
                raise value
            yield value  # type: ignore[misc]

    def _run(self) -> None:
        try:
            for item in self._produce():
                if not self._put(("item", item)):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(("error", exc))
            return
        self._put((_DONE, None))

    def _put(self, entry: tuple[object, T | BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
