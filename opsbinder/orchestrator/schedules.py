"""Run times exactly as Prefect's scheduler will produce them, DST quirks included.

Previews must show what will happen, not what cron "should" do: on a spring-forward day Prefect
runs `30 2 * * *` at 01:30, an hour early, and in a repeated hour it runs once. So the preview
asks Prefect's own server-side `CronSchedule` instead of re-implementing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prefect.server.schemas.schedules import CronSchedule


def _run(coro_factory: Callable[[], Coroutine[Any, Any, Sequence[datetime]]]) -> list[datetime]:
    """Callers are sync (CLI, validate); inside a running loop (web, flows) use a thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return list(asyncio.run(coro_factory()))
    with ThreadPoolExecutor(max_workers=1) as pool:
        return list(pool.submit(lambda: asyncio.run(coro_factory())).result())


def prefect_runs_between(
    cron: str, timezone: str, start: datetime, end: datetime
) -> list[datetime]:
    """Every fire time in [start, end] per Prefect, as aware datetimes in `timezone`.

    Prefect checks at most 1,000 candidate dates per call; keep ranges to fewer runs than that.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("prefect_runs_between() needs timezone-aware bounds")
    schedule = CronSchedule(cron=cron, timezone=timezone)
    # Prefect stops early when `end` lies just after a repeated hour (it compares the end with
    # a wall time); ask a little further and cut here. The scheduler itself uses far-off ends.
    beyond = end + timedelta(hours=3)
    dates = _run(lambda: schedule.get_dates(start=start, end=beyond))
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    return _in_zone([d for d in dates if lo <= d.astimezone(UTC) <= hi], timezone)


def prefect_next_runs(cron: str, timezone: str, after: datetime, n: int) -> list[datetime]:
    """The next `n` fire times strictly after `after`, as Prefect schedules them.

    Prefect's get_dates may hand back a DST-shifted date that lies just before its start
    argument; such dates are dropped here, so the list is always in the future of `after`.
    """
    if after.tzinfo is None:
        raise ValueError("prefect_next_runs() needs a timezone-aware instant")
    schedule = CronSchedule(cron=cron, timezone=timezone)
    start = after + timedelta(seconds=1)
    dates = _run(lambda: schedule.get_dates(n=n + 2, start=start))
    after_utc = after.astimezone(UTC)
    return _in_zone([d for d in dates if d.astimezone(UTC) > after_utc], timezone)[:n]


def _in_zone(dates: list[datetime], timezone: str) -> list[datetime]:
    """Plain stdlib datetimes in the schedule's zone (Prefect hands back pendulum objects)."""
    tz = ZoneInfo(timezone)
    return sorted(datetime.fromtimestamp(d.timestamp(), tz) for d in dates)
