"""The slots a procedure owes: the fire times of its schedule and the runs that match them.

What the missed-run watch (missed_runs.py) decides with, apart from the store: pure functions
of a schedule, a window of time and the runs found in it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Protocol
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbinder.clock import utc
from opsbinder.config.models import Schedule


def fire_times(cron: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """Fire times in (start, end], as UTC instants, as Prefect's scheduler fires them where it
    matters here: a wall-clock time repeated by a fall-back change fires once (croniter would
    give both, and the second would always look missed)."""
    tz = ZoneInfo(zone)
    it = croniter(cron, start.astimezone(tz))
    times: list[datetime] = []
    seen: set[datetime] = set()
    while True:
        at = utc(it.get_next(datetime))
        if at > end:
            return times
        wall = at.astimezone(tz).replace(tzinfo=None)
        if wall in seen:
            continue
        seen.add(wall)
        times.append(at)


class RunTimes(Protocol):
    """What the watch reads of a run: a store row, or the few columns a whole pass reads."""

    @property
    def outcome(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def scheduled_for(self) -> datetime | None: ...
    @property
    def dry_run(self) -> bool: ...


def _slots_unmatched(
    slots: list[datetime], rows: Sequence[RunTimes], tolerance: timedelta, grace: timedelta
) -> list[datetime]:
    """Greedy: each run satisfies at most one slot, the nearest one it can."""
    refs = sorted(utc(r.scheduled_for or r.started_at) for r in rows)
    used = [False] * len(refs)
    unmatched = []
    for slot in slots:
        hit = None
        for i, ref in enumerate(refs):
            if not used[i] and slot - tolerance <= ref <= slot + grace:
                hit = i
                break
        if hit is None:
            unmatched.append(slot)
        else:
            used[hit] = True
    return unmatched


class Timing(Protocol):
    """What the watch reads of a definition: the whole procedure, or only these fields."""

    @property
    def schedule(self) -> Schedule | None: ...
    @property
    def grace(self) -> timedelta: ...
    @property
    def timeout(self) -> timedelta: ...


@dataclass(frozen=True)
class Due:
    """What one procedure owes at `now`: its slots to match, and since when its runs count."""

    proc: Timing
    since: datetime
    slots: list[datetime]
    stuck_before: datetime

    @classmethod
    def of(
        cls,
        proc: Timing,
        created_at: datetime,
        live: datetime | None,
        now: datetime,
        lookback: timedelta,
        fire: Callable[[str, str, datetime, datetime], list[datetime]] = fire_times,
    ) -> Due:
        # a slot before going live was the shadow's: its dry run counted, its absence paged no one
        since = max(utc(created_at), now - lookback, live or now - lookback)
        slots = (
            fire(proc.schedule.cron, proc.schedule.timezone, since, now - proc.grace)
            if proc.schedule
            else []  # on demand: nothing is ever due, but a run that died still is a crash
        )
        return cls(proc, since, slots, now - proc.timeout - proc.grace)

    @property
    def runs_from(self) -> datetime:
        return self.since - timedelta(days=1)

    def stuck(self, run: RunTimes) -> bool:
        return run.outcome == "running" and utc(run.started_at) < self.stuck_before

    def unmatched(self, rows: Sequence[RunTimes], shadowed: bool) -> list[datetime]:
        if not self.slots:
            return []
        spacing = min((b - a for a, b in pairwise(self.slots)), default=None)
        tolerance = min(timedelta(hours=1), spacing / 2) if spacing else timedelta(hours=1)
        # a preview does not do the scheduled work, but a shadow's dry runs are all its work
        real = rows if shadowed else [run for run in rows if not run.dry_run]
        return _slots_unmatched(self.slots, real, tolerance, self.proc.grace)
