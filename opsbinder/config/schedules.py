"""What a procedure's cron means in its time zone: next runs and the bundle it belongs to."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbinder.config.models import Procedure, Schedule

ON_DEMAND = "on_demand"


def cadence_for(proc: Procedure) -> str:
    """The bundle a procedure belongs to: as given, else from its cron; on-demand ones to none."""
    if proc.schedule is None:
        return ON_DEMAND
    return proc.cadence or cadence_of(proc.schedule.cron)


def cadence_of(cron: str) -> str:
    """The bundle a cron belongs to: the coarsest field that is restricted decides; four
    months a year (`1,4,7,10`, `*/3`) is quarterly."""
    minute, hour, dom, month, dow = cron.split()
    if month != "*":
        months = croniter.expand(cron)[0][3]
        return "quarterly" if len(months) == 4 else "yearly"
    if dom != "*":
        return "monthly"
    if dow != "*":
        return "weekly"
    if hour == "*" or minute.startswith("*/"):
        return "hourly"
    return "daily"


def next_runs(schedule: Schedule | None, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` fire times after `after`, as aware datetimes in the schedule's zone;
    none for an on-demand procedure (no schedule)."""
    if schedule is None:
        return []
    tz = ZoneInfo(schedule.timezone)
    it = croniter(schedule.cron, after.astimezone(tz))
    return [it.get_next(datetime).astimezone(tz) for _ in range(count)]
