"""Recurrence rules (RFC 5545 RRULE) for maintenance windows and holidays, checked as written.

dateutil evaluates any RRULE, but one that can never match (30 February every day, the sixth
Monday of a day) makes it walk every period to the year 9999: twenty seconds for one line of a
hostile binder. So only the parts a calendar needs are accepted, impossible month/day pairs are
refused up front, and the rule must then occur within ten years, which it finds at once.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, datetime
from typing import Annotated

from dateutil.rrule import rrule, rrulestr
from pydantic import AfterValidator

PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYMONTH", "BYMONTHDAY", "BYSETPOS", "BYEASTER", "BYHOUR",
         "BYMINUTE", "UNTIL", "COUNT"}  # fmt: skip
FREQS = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
YEARS = 10
_WEEKDAY = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_REFERENCE = datetime(2000, 1, 1)


def _parts(text: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for piece in text.removeprefix("RRULE:").split(";"):
        name, _, value = piece.partition("=")
        if name.upper() not in PARTS:
            raise ValueError(
                f"RRULE part {name!r} is not supported here; use {', '.join(sorted(PARTS))}"
            )
        parts[name.upper()] = value
    return parts


def _ints(parts: dict[str, str], name: str, low: int, high: int) -> list[int]:
    try:
        values = [int(v) for v in parts[name].split(",")]
    except ValueError:
        raise ValueError(f"{name} takes whole numbers") from None
    if not all(low <= v <= high and v != 0 for v in values) or not values:
        raise ValueError(f"{name} takes numbers from {low} to {high} (not 0)")
    return values


def _possible_day(parts: dict[str, str]) -> bool:
    months = _ints(parts, "BYMONTH", 1, 12) if "BYMONTH" in parts else range(1, 13)
    days = _ints(parts, "BYMONTHDAY", -31, 31)
    return any(abs(d) <= calendar.monthrange(2000, m)[1] for m in months for d in days)


def _static_checks(parts: dict[str, str]) -> None:
    """What would make dateutil search to the year 9999: refused before it runs."""
    freq = parts.get("FREQ", "").upper()
    if freq not in FREQS:
        raise ValueError(f"FREQ must be one of {', '.join(FREQS)}")
    if "BYEASTER" in parts:
        if freq != "YEARLY" or set(parts) - {"FREQ", "BYEASTER", "INTERVAL", "UNTIL", "COUNT"}:
            raise ValueError("BYEASTER goes with FREQ=YEARLY alone (e.g. FREQ=YEARLY;BYEASTER=1)")
        _ints(parts, "BYEASTER", -80, 250)
    if "BYSETPOS" in parts:
        one_day = "," not in parts.get("BYDAY", ",") and "BYMONTHDAY" not in parts
        if freq != "MONTHLY" or not one_day or _ints(parts, "BYSETPOS", -1, 4) == []:
            raise ValueError("BYSETPOS goes with FREQ=MONTHLY and one BYDAY (1 to 4, or -1)")
    if "BYMONTH" in parts:
        _ints(parts, "BYMONTH", 1, 12)
    if "INTERVAL" in parts:
        _ints(parts, "INTERVAL", 1, 1000)
    most = {"MONTHLY": 5, "YEARLY": 53}.get(freq, 0)  # the fifth Monday of a month, at most
    for day in parts.get("BYDAY", "").split(",") if "BYDAY" in parts else ():
        found = _WEEKDAY.fullmatch(day.upper())
        if found is None or abs(int(found.group(1) or 0)) > most:
            nth = f"-{most} to {most} before a weekday" if most else "none"
            raise ValueError(f"BYDAY takes MO..SU (numbered: {nth}), not {day!r}")
    if "BYMONTHDAY" in parts and not _possible_day(parts):
        raise ValueError("this rule never occurs: no month has that day")


def check_rrule(text: str) -> str:
    """An RRULE (without DTSTART) that occurs within ten years of any start."""
    if not isinstance(text, str) or "FREQ=" not in text.upper():
        raise ValueError('not an RRULE; write e.g. "FREQ=WEEKLY;BYDAY=SU" (RFC 5545)')
    parts = _parts(text.strip())
    _static_checks(parts)
    try:
        rule = _rule(text.strip(), _REFERENCE)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"not a valid RRULE: {exc}") from None
    if not occurrences(rule, _REFERENCE, _REFERENCE.replace(year=2000 + YEARS)):
        raise ValueError(f"this rule never occurs within {YEARS} years")
    return text.strip()


def occurrences(rule: rrule, start: datetime, end: datetime, limit: int = 5000) -> list[datetime]:
    """Occurrences in [start, end], at most `limit` (a window list, not a calendar dump)."""
    found: list[datetime] = []
    for when in rule.xafter(start, inc=True):
        if when > end or len(found) >= limit:
            break
        found.append(when)
    return found


def rule_from(text: str, dtstart: datetime) -> rrule:
    return _rule(text, dtstart)


@functools.lru_cache(maxsize=256)
def _rule(text: str, dtstart: datetime) -> rrule:
    made = rrulestr(text, dtstart=dtstart)
    assert isinstance(made, rrule)  # no RDATE/EXDATE parts are accepted: never a set
    return made


@functools.lru_cache(maxsize=1024)
def days_in_year(text: str, year: int) -> frozenset[date]:
    """The days of `year` on which a holiday rule occurs (rules start on 1 January 1970)."""
    rule = _rule(text, datetime(1970, 1, 1))
    first = datetime(year, 1, 1)
    return frozenset(w.date() for w in occurrences(rule, first, datetime(year, 12, 31, 23, 59)))


RRuleText = Annotated[str, AfterValidator(check_rrule)]
