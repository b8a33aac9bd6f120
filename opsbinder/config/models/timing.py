"""When things happen: time zones, cron expressions, dates and spans, checked as written.

Each check refuses what would crash or mislead later rather than here: a cron that never fires
(30 February), a zone that is not a place (`right/...`, `Etc/GMT+5`, `CET`), a date that does not
exist or lies so far out that date arithmetic overflows (year 9999).
"""

from __future__ import annotations

import calendar
import difflib
import functools
import re
import zoneinfo
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter
from pydantic import AfterValidator, BeforeValidator

from opsbinder.config.models.base import located

UTC_NAMES = ("UTC", "Etc/UTC")
REGIONS = (
    "Africa",
    "America",
    "Antarctica",
    "Arctic",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
)


def _check_timezone(value: str) -> str:
    """A canonical Region/City zone (or UTC) that this machine's tz database has."""
    if value in UTC_NAMES:
        return value
    prefix, _, rest = value.partition("/")
    if prefix in {"posix", "right"} and rest:
        variant = "leap-second" if prefix == "right" else "POSIX"
        raise ValueError(f"the {variant} variant of a time zone; write {rest} instead")
    try:
        ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        close = difflib.get_close_matches(value, _place_zones(), n=1)
        hint = f"; did you mean {close[0]}?" if close else " (e.g. Europe/Berlin)"
        raise ValueError(f"unknown IANA time zone{hint}") from exc
    if prefix not in REGIONS:
        target = _links().get(value)
        instead = target if target else "the place's Region/City (e.g. Europe/Berlin)"
        raise ValueError(f"not a Region/City time zone; write {instead} or UTC")
    return value


@functools.cache
def _place_zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if z.partition("/")[0] in REGIONS)


@functools.cache
def _links() -> dict[str, str]:
    """Old names -> the zone they stand for, from the tz database's own `tzdata.zi`."""
    for folder in zoneinfo.TZPATH:
        try:
            text = (Path(folder) / "tzdata.zi").read_text(encoding="utf-8")
        except OSError:
            continue
        pairs = (line.split()[1:3] for line in text.splitlines() if line.startswith("L "))
        return {alias: target for target, alias in pairs}
    return {}


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]

CRON_YEARS = 10
_CRON_REFERENCE = datetime(2000, 1, 1)  # the check must not depend on today: crons repeat


def _check_cron(value: Any) -> str:
    problem = _cron_problem(value) if isinstance(value, str) else _NOT_A_CRON
    if problem is not None:
        raise ValueError(problem.format(value=value))
    return str(value)


_NOT_A_CRON = "not a valid cron expression: {value!r} (five fields: m h dom mon dow)"
_NEVER_FIRES = (
    f"this cron never fires: no date matches it in {CRON_YEARS} years "
    "(a day the month does not have, like 30 February?)"
)


@functools.lru_cache(maxsize=4096)
def _cron_problem(value: str) -> str | None:
    """Why `value` is no usable cron, or None. Remembered per expression: the answer depends on
    the text alone, and every stored procedure is validated again each time the store is read
    (the missed-run watch reads every procedure each minute), while a fleet has few crons."""
    if not croniter.is_valid(value):
        return _NOT_A_CRON
    if len(value.split()) != 5:
        return "cron needs exactly five fields (m h dom mon dow), got {value!r}"
    try:
        croniter(value, _CRON_REFERENCE, max_years_between_matches=CRON_YEARS).get_next(datetime)
    except (CroniterError, ValueError, OverflowError):
        return _NEVER_FIRES
    return None


CronExpr = Annotated[str, AfterValidator(_check_cron)]

MIN_YEAR, MAX_YEAR = 1970, 2199
_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ]+(\d{1,2}):(\d{1,2}))?")


def date_problem(text: str) -> str | None:
    """Why `text`, written as a date or date and time, names no real moment (or None)."""
    found = _DATE.match(text)
    if not found:
        return None
    year, month, day = (int(part) for part in found.group(1, 2, 3))
    if not 1 <= month <= 12:
        return f"{text} is not a date: there is no month {month}"
    last = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= last:
        return (
            f"{text} is not a date: {calendar.month_name[month]} {year} has {last} days"
            if day > 28
            else f"{text} is not a date: there is no day {day}"
        )
    if found.group(4) is not None:
        hour, minute = int(found.group(4)), int(found.group(5))
        if hour > 23 or minute > 59:
            return f"{text} is not a time of day: hours go from 00 to 23, minutes to 59"
    return None


def _readable(value: Any) -> Any:
    if isinstance(value, str) and (problem := date_problem(value)):
        raise ValueError(problem)
    return value


def _in_range(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"a date between {MIN_YEAR} and {MAX_YEAR} (got the year {value.year})")
    return value


def _in_range_dt(value: datetime) -> datetime:
    _in_range(value.date())
    return value


BinderDate = Annotated[date, BeforeValidator(_readable), AfterValidator(_in_range)]
BinderDateTime = Annotated[datetime, BeforeValidator(_readable), AfterValidator(_in_range_dt)]


def check_span(start: datetime, end: datetime, noun: str) -> None:
    """A stretch of time (a window, an override) must end after it starts, both alike in zone."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise located("end", "give start and end both with a UTC offset or both without")
    if end <= start:
        raise located("end", f"the {noun} ends before it starts ({start.isoformat()})")
