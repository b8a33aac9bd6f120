"""When things happen: IANA time zones and cron expressions, checked as a binder states them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator

from opsbinder.config.models.base import located


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_cron(value: str) -> str:
    if not isinstance(value, str) or not croniter.is_valid(value):
        raise ValueError(f"not a valid cron expression: {value!r} (five fields: m h dom mon dow)")
    if len(value.split()) != 5:
        raise ValueError(f"cron needs exactly five fields (m h dom mon dow), got {value!r}")
    return value


CronExpr = Annotated[str, AfterValidator(_check_cron)]


def check_span(start: datetime, end: datetime, noun: str) -> None:
    """A stretch of time (a window, an override) must end after it starts, both alike in zone."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise located("end", "give start and end both with a UTC offset or both without")
    if end <= start:
        raise located("end", f"the {noun} ends before it starts ({start.isoformat()})")
