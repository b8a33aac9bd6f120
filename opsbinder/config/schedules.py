"""What a procedure's cron means in its time zone: next runs and the bundle it belongs to."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbinder.config.models import Schedule


def cadence_of(cron: str) -> str:
    """The bundle a cron belongs to: the coarsest field that is restricted decides."""
    minute, hour, dom, month, dow = cron.split()
    if month != "*":
        return "yearly"
    if dom != "*":
        return "monthly"
    if dow != "*":
        return "weekly"
    if hour == "*" or minute.startswith("*/"):
        return "hourly"
    return "daily"


def next_runs(schedule: Schedule, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` fire times after `after`, as aware datetimes in the schedule's zone."""
    tz = ZoneInfo(schedule.timezone)
    it = croniter(schedule.cron, after.astimezone(tz))
    return [it.get_next(datetime).astimezone(tz) for _ in range(count)]
