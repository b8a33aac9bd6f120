"""How long records are kept, as the law states it: days, months or years, optionally counted
from the end of the calendar year ("10 years from the end of the year", as commercial and tax
codes say).

Calendar arithmetic, not seconds: "1 month" before 31 March is 28 or 29 February (the month's
last day when it is shorter), "1 year" before 29 February is 28 February. Counted from the end of
the year, every record of a calendar year expires at once: kept N years after 31 December of its
year, so on 1 January of year Y + N + 1 the whole year Y goes. Months and years are counted on
the wall clock of the zone given (the end of a year is local), days as exact instants (24 hours
each, as `retention_days` always was).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

Unit = Literal["days", "months", "years"]
FORMS = '"90 days", "18 months", "10 years" or "10 years from the end of the year"'
LIMIT: dict[Unit, int] = {"days": 36_500, "months": 1_200, "years": 100}  # a hundred years
_FORM = re.compile(
    r"(\d{1,9})\s*(days?|months?|years?)"
    r"(\s+from\s+the\s+end\s+of\s+the\s+(?:calendar\s+)?year)?"
)


@dataclass(frozen=True)
class Retention:
    amount: int
    unit: Unit
    from_year_end: bool = False

    def __str__(self) -> str:
        """The binder's own form, which `parse_retention` reads back."""
        tail = " from the end of the year" if self.from_year_end else ""
        return f"{self._length()}{tail}"

    def _length(self) -> str:
        return f"{self.amount} {self.unit if self.amount != 1 else self.unit[:-1]}"

    def words(self) -> str:
        """For people reading an export: what is kept, and (from a year's end) an example."""
        if not self.from_year_end:
            return f"{self._length()}: a record older than that goes"
        example = ""
        if self.unit == "years":
            example = f"; a record of 2020 is kept until 31 December {2020 + self.amount}"
        return f"{self._length()} from the end of the calendar year of each record{example}"

    def cutoff(self, now: datetime, zone: ZoneInfo) -> datetime:
        """The instant before which records have expired at `now` (aware, in `zone`)."""
        if now.tzinfo is None:
            raise ValueError("Retention.cutoff() needs a timezone-aware instant")
        local = now.astimezone(zone)
        if self.unit == "days":
            back = (now.astimezone(UTC) - timedelta(days=self.amount)).astimezone(zone)
        else:
            back = _wall(local.replace(tzinfo=None) - self._delta(), zone)
        if not self.from_year_end:
            return back
        # The year of `back` is the oldest one still (partly) within the period: it is kept whole.
        return datetime(back.year, 1, 1, tzinfo=zone)

    def _delta(self) -> relativedelta:
        return relativedelta(months=self.amount if self.unit == "months" else 12 * self.amount)


def _wall(value: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in `zone`; one in a spring-forward gap moves to the gap's end."""
    aware = value.replace(tzinfo=zone)
    there_and_back = aware.astimezone(UTC).astimezone(zone)
    return there_and_back if there_and_back.replace(tzinfo=None) != value else aware


def parse_retention(value: Any) -> Retention:
    """A Retention from one of FORMS; ValueError naming them otherwise."""
    if isinstance(value, Retention):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"write a retention with its unit: {FORMS}")
    found = _FORM.fullmatch(" ".join(value.lower().split()))
    if found is None:
        raise ValueError(f"not a retention; write {FORMS}")
    amount, word, year_end = int(found.group(1)), found.group(2), found.group(3)
    unit: Unit = "days" if word.startswith("day") else "months" if word[0] == "m" else "years"
    if not 1 <= amount <= LIMIT[unit]:
        raise ValueError(f"a retention of 1 to {LIMIT[unit]:,} {unit} (a hundred years at most)")
    return Retention(amount, unit, bool(year_end))


RetentionPeriod = Annotated[
    Retention,
    PlainValidator(parse_retention),
    PlainSerializer(str),
    WithJsonSchema(
        {"type": "string", "examples": ["90 days", "10 years from the end of the year"]}
    ),
]
