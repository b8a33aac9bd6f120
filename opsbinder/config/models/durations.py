"""Durations as people write them in a binder ("45m", "45 minutes", "1d 2h") or ISO 8601.

A bare number is refused: `grace: 30` could mean seconds or minutes. Every duration is longer
than zero and at most ten years, so nothing computed from it can overflow.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, TypeAdapter, ValidationError

FORMS = '"45m", "45 minutes", "2h", "2 hours", "1d 2h", "1h30m", "1 week" or ISO 8601 ("PT45M")'
MAX_DURATION = timedelta(days=3653)

_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), 604800),
}
_PART = re.compile(r"(\d{1,18})\s*([a-z]+)")
_WHOLE = re.compile(r"(?:\d{1,18}\s*[a-z]+\s*(?:,\s*|and\s+)?)+")
_ISO = TypeAdapter(timedelta)


def parse_duration(value: Any) -> timedelta:
    """A duration in one of FORMS; ValueError naming them otherwise."""
    if isinstance(value, timedelta):
        return _bounded(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a duration; write it with a unit: {FORMS}")
    return _parse_text(value)


@functools.lru_cache(maxsize=1024)
def _parse_text(value: str) -> timedelta:
    """Remembered per text (a timedelta cannot change): stored definitions are validated again
    on every read, with the same few durations."""
    text = value.strip().lower()
    if text.lstrip("-+").startswith("p"):
        try:
            return _bounded(_ISO.validate_python(value.strip()))
        except ValidationError as exc:
            too_long = any("large" in e["msg"] or "exceed" in e["msg"] for e in exc.errors())
            raise ValueError(
                "must be at most 10 years" if too_long else f"not a duration; write {FORMS}"
            ) from None
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a duration; write {FORMS}")
    seconds = 0
    for amount, unit in _PART.findall(text):
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in a duration; write {FORMS}")
        seconds += int(amount) * _UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError("must be at most 10 years")
    return _bounded(timedelta(seconds=seconds))


def _bounded(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    if value > MAX_DURATION:
        raise ValueError("must be at most 10 years")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
