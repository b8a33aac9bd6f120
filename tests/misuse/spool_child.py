"""A replay of the hook spool in a process of its own, as `opsbinder outbox replay` does it,
slowed after each record (argv[1] seconds) and saying "applied" each time, so a test can run a
second one alongside it or kill it half-way."""

from __future__ import annotations

import sys
import time
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
        time.sleep(float(sys.argv[1]))

    return _real_replay(directory, slow, *args, **kwargs)


if __name__ == "__main__":
    spool.replay = _slow_replay  # type: ignore[assignment]
    settings = get_settings()
    report = replay_spool(engine_for(settings.store_url), settings.spool, SystemClock())
    print("busy" if report.busy else f"done {report.applied} {report.failed}", flush=True)
