"""Progress of long procedures (purge, archive) to whoever shows it, e.g. the CLI's bars.

A flow runs in the process that called it, so the CLI listens here while the flow runs; under a
worker nobody listens and reports cost nothing. A listener's error never stops the procedure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opsbinder.procedures.context import Progress

Listener = Callable[[str, int, int | None, str], None]  # label, done, total, message

_listeners: list[Listener] = []
log = logging.getLogger("opsbinder.progress")


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def reporter(label: str) -> Progress:
    """The `ctx.progress` callback of one run, tagged with its label (client/procedure)."""

    def report(done: int, total: int | None, message: str) -> None:
        for listener in list(_listeners):
            try:
                listener(label, done, total, message)
            except Exception:
                log.exception("progress listener failed")

    return report
