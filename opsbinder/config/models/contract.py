"""The client's contract: when the MSP is on the hook (service hours) and what it promised.

SLA clocks count only inside service hours, so a weekly calendar must say exactly which local
minutes count: each weekday (or a range like `mon-fri`) maps to spans "HH:MM-HH:MM" in the
client's time zone, `24:00` closing a day; contract holidays count no minute at all. A
calendar without a single span would make every deadline infinite, so it is refused here.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from opsbinder.config.models.base import Severity, Slug, Strict, located
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.timing import BinderDate

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = "24/7"
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SPAN_FORM = 'write spans as "08:00-18:00" (24:00 ends a day)'


def _minutes(hours: str, minutes: str, *, end: bool) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60 or (value == 24 * 60 and not end):
        raise ValueError(f"{hours}:{minutes} is not a time of day; {_SPAN_FORM}")
    return value


def parse_span(text: str) -> tuple[int, int]:
    """A span "08:00-18:00" as minutes after local midnight, start before end."""
    found = _SPAN.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"not a span of the day; {_SPAN_FORM}")
    start = _minutes(found.group(1), found.group(2), end=False)
    stop = _minutes(found.group(3), found.group(4), end=True)
    if stop <= start:
        raise ValueError(f"the span ends before it starts; {_SPAN_FORM}")
    return start, stop


def _spans(value: Any) -> Any:
    """One span or a list of them, each "HH:MM-HH:MM", kept as written but normalised so the
    binder round-trips through the store."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"spans of the day; {_SPAN_FORM}")
    spans = sorted(parse_span(item) for item in items)
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError("two spans of the same day overlap")
    return [f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in spans]


def _days(key: str) -> list[int]:
    """`mon`, or a range `mon-fri` (in week order, no wrapping past Sunday)."""
    first, _, last = key.strip().lower().partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"{key!r} is not a day; write mon..sun or a range like mon-fri")
    start, stop = DAYS.index(first), DAYS.index(last or first)
    if stop < start:
        raise ValueError(f"{key!r} runs backwards; write the earlier day first (e.g. mon-fri)")
    return list(range(start, stop + 1))


def _day_key(key: str) -> str:
    _days(key)
    return key


Spans = Annotated[list[str], BeforeValidator(_spans)]
DayKey = Annotated[str, AfterValidator(_day_key)]


class ServiceHours(Strict):
    """A weekly calendar (local time of the client) and the contract's holidays."""

    weekly: dict[DayKey, Spans] = Field(min_length=1)
    holidays: list[BinderDate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _week(self) -> ServiceHours:
        seen: set[int] = set()
        for key in self.weekly:
            days = _days(key)
            if seen & set(days):
                raise located(f"weekly.{key}", "names a day another key of weekly names too")
            seen |= set(days)
        if not any(self.weekly.values()):
            raise located("weekly", "no span in the whole week: no SLA clock would ever run")
        return self

    def week(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        """The spans of each weekday, Monday first."""
        days: list[tuple[tuple[int, int], ...]] = [()] * 7
        for key, spans in self.weekly.items():
            for day in _days(key):
                days[day] = tuple(parse_span(span) for span in spans)
        return tuple(days)


def _hours(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip() == ALWAYS else value


Hours = Annotated[ServiceHours | None, BeforeValidator(_hours)]


class SeverityTarget(Strict):
    """How fast a severity is acknowledged and resolved, counted in service hours or always."""

    response: Duration
    resolution: Duration
    counted: Literal["service_hours", "always"] = "service_hours"

    @model_validator(mode="after")
    def _ordered(self) -> SeverityTarget:
        if self.resolution < self.response:
            raise located("resolution", "is shorter than the response target")
        return self


Share = Annotated[float, Field(gt=0, lt=1)]


def _percent(value: Any) -> Any:
    """`99%` or `0.99`; a share of runs or of a target."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError("a percentage like 99% or a share like 0.99") from None
    return value


class OnTimeTarget(Strict):
    """The share of a procedure's runs that must finish within its grace period."""

    procedure: Slug
    target: Annotated[float, BeforeValidator(_percent), Field(gt=0, le=1)]


class Contract(Strict):
    """What the client was promised; absent, no SLA clock runs and no pack counts targets."""

    service_hours: Hours = Field(default=None, description="'24/7' or a weekly calendar")
    targets: dict[Severity, SeverityTarget] = Field(default_factory=dict)
    on_time: list[OnTimeTarget] = Field(default_factory=list)
    pre_breach_share: Annotated[Share, BeforeValidator(_percent)] = 0.75
    breaches_on_status_page: bool = False
    evidence_recipients: list[Slug] = Field(default_factory=list)

    def target(self, severity: str) -> SeverityTarget | None:
        return next((t for sev, t in self.targets.items() if sev == severity), None)

    def warning_at(self, target: timedelta) -> timedelta:
        """How much of a target may pass before the next level is paged."""
        return target * self.pre_breach_share
