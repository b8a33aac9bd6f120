"""A replay of the hook spool in a process of its own, as `opsbinder outbox replay` does it,
saying "applied" after each record and then waiting for a line on stdin (or, with argv[1] "0",
not waiting), so a test decides exactly where it stands when it starts a second replay alongside
or kills it: no race with a busy machine's timing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from opsbinder import spool
from opsbinder.clock import SystemClock
from opsbinder.incidents.hook_reports import replay_spool
from opsbinder.settings import get_settings
from opsbinder.store.db import engine_for

_real_replay = spool.replay


def _slow_replay(
    directory: Any, apply: Callable[[dict[str, Any]], None], *args: Any, **kwargs: Any
) -> spool.ReplayReport:
    def slow(record: dict[str, Any]) -> None:
        apply(record)  # committed
        print("applied", flush=True)
        if sys.argv[1] == "step":
            sys.stdin.readline()

    return _real_replay(directory, slow, *args, **kwargs)


if __name__ == "__main__":
    spool.replay = _slow_replay  # type: ignore[assignment]
    settings = get_settings()
    report = replay_spool(engine_for(settings.store_url), settings.spool, SystemClock())
    print("busy" if report.busy else f"done {report.applied} {report.failed}", flush=True)
