"""On-call schedules seen over a stretch of time, for the binder's shift table and the audit.

Who is on call is `opsbinder.oncall`'s answer (rotations, layers, overrides, DST); this module
only reshapes it into what the handover shows: segments in the schedule's zone, and the gaps.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from opsbinder import oncall
from opsbinder.config.models import OnCallSchedule

Segment = tuple[datetime, datetime, tuple[str, ...]]


def on_call(schedule: OnCallSchedule, at: datetime) -> tuple[str, ...]:
    """The contact ids on call at `at` (empty: nobody)."""
    who = oncall.on_call(schedule, at)
    return (who,) if who else ()


def segments(schedule: OnCallSchedule, start: datetime, end: datetime) -> list[Segment]:
    tz = ZoneInfo(schedule.timezone)
    return [
        (s.start.astimezone(tz), s.end.astimezone(tz), (s.contact,) if s.contact else ())
        for s in oncall.shifts(schedule, start, end)
    ]


def gaps(
    schedule: OnCallSchedule, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    return [(a, b) for a, b, who in segments(schedule, start, end) if not who]
