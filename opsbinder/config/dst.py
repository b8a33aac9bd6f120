"""What a cron schedule does on the days its time zone changes clocks, as Prefect runs it.

Cron names wall-clock times; on a spring-forward day some of them do not exist and on a
fall-back day some happen twice. Prefect 3.8's CronSchedule (checked against it in
tests/config/test_dst.py, which calls Prefect) resolves them like this:

- a time in the gap runs at the wall time read with the *later* offset, i.e. early by the size
  of the gap (`30 2 * * *` in Europe/Berlin runs at 01:30 CET on 2027-03-28); if another run of
  the same cron already falls on that instant, the two are one run: the gap time is skipped;
- a time in the repeated hour runs once, at its first occurrence; the second pass through that
  hour gets no runs at all, so an hourly cron pauses for two hours.

That is Prefect 3.8.8 on Python < 3.13 (its pytz/pendulum path; 3.13+ takes another code path).
The tests compare these predictions with the installed Prefect, so a change there shows.

This module predicts that without importing Prefect, so `opsbinder validate` stays cheap and the
core stays Prefect-free; opsbinder/orchestrator/schedules.py asks Prefect itself for previews.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbinder.config.models import Binder, ClientBinder

HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class ClockChange:
    """One DST transition: at `at` (UTC) the zone's offset goes from `before` to `after`."""

    timezone: str
    at: datetime
    before: timedelta
    after: timedelta

    @property
    def is_gap(self) -> bool:
        return self.after > self.before

    @property
    def size(self) -> timedelta:
        return abs(self.after - self.before)

    @property
    def wall_start(self) -> datetime:
        """First naive wall time affected: the skipped one (gap) or the repeated one."""
        offset = self.before if self.is_gap else self.after
        return (self.at + offset).replace(tzinfo=None)

    def describe(self) -> str:
        tz = ZoneInfo(self.timezone)
        old = (self.at - timedelta(seconds=1)).astimezone(tz)
        new = self.at.astimezone(tz)
        wall = (self.at + self.before).strftime("%Y-%m-%d %H:%M")
        return (
            f"{wall} {old.strftime('%Z')} -> {new.strftime('%H:%M %Z')} "
            f"(clocks go {'forward' if self.is_gap else 'back'} {_amount(self.size)})"
        )


@dataclass(frozen=True)
class DstEffect:
    """One cron time on a clock-change day and what Prefect does with it."""

    change: ClockChange
    wall: datetime  # the naive local time the cron names
    runs_at: datetime | None  # aware, in the zone; None: no run of its own (skipped)

    @property
    def kind(self) -> Literal["gap", "repeat"]:
        return "gap" if self.change.is_gap else "repeat"


def clock_changes(timezone: str, start: datetime, end: datetime) -> list[ClockChange]:
    """DST transitions of `timezone` in [start, end), found by stepping and bisecting."""
    tz = ZoneInfo(timezone)
    changes: list[ClockChange] = []
    step = timedelta(hours=6)  # no zone changes its clocks twice within six hours
    lo = start.astimezone(UTC)
    offset = lo.astimezone(tz).utcoffset()
    while lo < end:
        hi = lo + step
        new_offset = hi.astimezone(tz).utcoffset()
        if new_offset != offset:
            a, b = lo, hi  # offset(a) == old, offset(b) == new
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                if mid.astimezone(tz).utcoffset() == offset:
                    a = mid
                else:
                    b = mid
            assert offset is not None and new_offset is not None
            at = b.replace(microsecond=0)
            if start <= at < end:
                changes.append(ClockChange(timezone, at, offset, new_offset))
            offset = new_offset
        lo = hi
    return changes


def _exists(wall: datetime, tz: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall


def prefect_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant Prefect gives a cron wall time (see the module docstring)."""
    if _exists(wall, tz):
        return wall.replace(tzinfo=tz, fold=0)
    return wall.replace(tzinfo=tz, fold=1).astimezone(UTC).astimezone(tz)


def effects(cron: str, timezone: str, change: ClockChange) -> list[DstEffect]:
    """The cron's wall times inside the skipped or repeated stretch of one clock change."""
    tz = ZoneInfo(timezone)
    first, stop = change.wall_start, change.wall_start + change.size
    it = croniter(cron, first - timedelta(seconds=1))
    found: list[DstEffect] = []
    while (wall := it.get_next(datetime)) < stop:
        runs_at: datetime | None = prefect_instant(wall, tz)
        if change.is_gap:
            assert runs_at is not None
            earlier_wall = runs_at.replace(tzinfo=None)
            if croniter.match(cron, earlier_wall):
                runs_at = None  # lands on a run the cron has anyway: one run
        found.append(DstEffect(change, wall, runs_at))
    return found


def predicted_runs(cron: str, timezone: str, start: datetime, end: datetime) -> list[datetime]:
    """Every run in [start, end] as Prefect schedules it; tests hold this against Prefect."""
    tz = ZoneInfo(timezone)
    begin = start.astimezone(tz).replace(tzinfo=None) - timedelta(hours=3)
    until = end.astimezone(tz).replace(tzinfo=None) + timedelta(hours=3)
    it = croniter(cron, begin)
    runs: set[datetime] = set()
    while (wall := it.get_next(datetime)) <= until:
        instant = prefect_instant(wall, tz)
        if start <= instant <= end:
            runs.add(instant.astimezone(UTC))
    return [r.astimezone(tz) for r in sorted(runs)]


def _amount(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes == 60:
        return "an hour"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"


def _hm(value: datetime) -> str:
    return value.strftime("%H:%M")


def _stamp(value: datetime) -> str:
    return value.strftime("%H:%M %Z")


def describe(items: list[DstEffect], cron: str) -> str:
    """One sentence per clock change saying exactly what Prefect will do."""
    change = items[0].change
    day = change.wall_start.strftime("%Y-%m-%d")
    if change.is_gap:
        parts = []
        moved = [e for e in items if e.runs_at is not None]
        skipped = [e for e in items if e.runs_at is None]
        for effect in moved:
            assert effect.runs_at is not None
            parts.append(
                f"{day} {_hm(effect.wall)} does not exist; Prefect runs it at "
                f"{_stamp(effect.runs_at)}, {_amount(change.size)} early"
            )
        if skipped:
            walls = ", ".join(_hm(e.wall) for e in skipped)
            verb = "does" if len(skipped) == 1 else "do"
            parts.append(
                f"{day} {walls} {verb} not exist; Prefect skips "
                f"{'it' if len(skipped) == 1 else f'those {len(skipped)} runs'} "
                f"(the clock jumps from {_hm(change.wall_start)} to "
                f"{_hm(change.wall_start + change.size)})"
            )
        return "; ".join(parts)
    tz = ZoneInfo(change.timezone)
    first = (change.at - timedelta(seconds=1)).astimezone(tz).strftime("%Z")
    second = change.at.astimezone(tz).strftime("%Z")
    last = change.wall_start + change.size - timedelta(minutes=1)
    stretch = f"{_hm(change.wall_start)}-{_hm(last)}"
    sub_daily = croniter.match(cron, items[0].wall - timedelta(hours=1))
    if len(items) == 1 and not sub_daily:
        effect = items[0]
        assert effect.runs_at is not None
        return (
            f"{day} {_hm(effect.wall)} happens twice ({first}, then {second}); Prefect runs it "
            f"once, at the first occurrence: {_stamp(effect.runs_at)}"
        )
    runs = ", ".join(_stamp(e.runs_at) for e in items if e.runs_at is not None)
    return (
        f"{day} {stretch} happens twice ({first}, then {second}); Prefect runs {runs} at the "
        f"first pass only and skips the repeated hour: no run from {_hm(change.wall_start)} "
        f"to {_hm(change.wall_start + change.size)} {second}"
    )


def schedule_effects(
    cron: str, timezone: str, start: datetime, end: datetime
) -> list[list[DstEffect]]:
    """Per clock change in [start, end): the affected runs of this cron (empty changes left out)."""
    grouped = [effects(cron, timezone, c) for c in clock_changes(timezone, start, end)]
    return [items for items in grouped if items]


def dst_warnings(binder: Binder | ClientBinder, now: datetime) -> list[str]:
    """A warning per procedure and clock change within a year of `now` that moves or drops runs."""
    clients = binder.clients if isinstance(binder, Binder) else [binder]
    warnings: list[str] = []
    changes: dict[str, list[ClockChange]] = {}
    for client in clients:
        for procedure in client.procedures:
            if procedure.schedule is None:
                continue  # on demand: Prefect schedules nothing
            cron, timezone = procedure.schedule.cron, procedure.schedule.timezone
            if timezone not in changes:
                changes[timezone] = clock_changes(timezone, now, now + HORIZON)
            grouped = (effects(cron, timezone, change) for change in changes[timezone])
            for items in (group for group in grouped if group):
                warnings.append(
                    f"{client.client.id}/{procedure.id}: {cron} ({timezone}) — {describe(items, cron)}"
                )
    return warnings
