"""Schedules and durations said the way a technician reads them, next to the cron they come from."""

from __future__ import annotations

from datetime import timedelta

from cron_descriptor import ExpressionDescriptor, Options

from opsbinder.config.models import Procedure
from opsbinder.config.models.escalation import SEVERITIES, PerSeverity

_OPTIONS = Options()
_OPTIONS.use_24hour_time_format = True
_OPTIONS.verbose = True


def schedule_in_words(cron: str, timezone: str) -> str:
    """ "At 01:15, every day, Europe/Berlin time": the zone matters as much as the hour."""
    try:
        described = ExpressionDescriptor(cron, _OPTIONS).get_description()
    except Exception:  # the binder validated the cron; an odd one still must not stop an export
        described = f"cron {cron}"
    return f"{described}, {timezone} time"


def when_in_words(proc: Procedure) -> str:
    """A procedure's schedule in words, or that it has none and why that is fine."""
    if proc.schedule is None:
        return "On demand: no schedule; run by hand when needed"
    return schedule_in_words(proc.schedule.cron, proc.schedule.timezone)


def duration_in_words(value: timedelta | PerSeverity | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, PerSeverity):  # an acknowledgement timeout per severity
        named = [f"{s}: {duration_in_words(getattr(value, s))}" for s in SEVERITIES
                 if getattr(value, s) is not None]  # fmt: skip
        if value.default is not None:
            named.append(f"otherwise {duration_in_words(value.default)}")
        return "; ".join(named)
    seconds = int(value.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def short_duration(value: timedelta) -> str:
    """The binder's own short form ("45m", "26h", "3d"), which the loader reads back."""
    seconds = int(value.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
