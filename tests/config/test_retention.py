"""Retention as the law states it: calendar arithmetic with exact expectations (leap days, month
ends, the end of a year in the client's zone), its words, its refusals, and purge/archive using it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from opsbinder.config.models.retention import Retention, parse_retention
from opsbinder.handover.binder_yaml import dump
from tests.procedures.conftest import purge_proc

BERLIN = ZoneInfo("Europe/Berlin")


def _cut(text: str, now: datetime) -> datetime:
    return parse_retention(text).cutoff(now, BERLIN)


def _berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "now", "cutoff"),
    [
        # months: the same day N months back, the month's last day when that month is shorter
        ("1 month", _berlin(2027, 3, 31, 10), _berlin(2027, 2, 28, 10)),
        ("1 month", _berlin(2028, 3, 31, 10), _berlin(2028, 2, 29, 10)),  # leap year
        ("18 months", _berlin(2027, 8, 31, 0), _berlin(2026, 2, 28, 0)),
        ("3 months", _berlin(2027, 5, 31, 23, 30), _berlin(2027, 2, 28, 23, 30)),
        # years: 29 February has no twin in a common year
        ("1 year", _berlin(2028, 2, 29, 12), _berlin(2027, 2, 28, 12)),
        ("4 years", _berlin(2028, 2, 29, 12), _berlin(2024, 2, 29, 12)),
        # across a clock change, months keep the wall-clock hour
        ("1 month", _berlin(2027, 4, 15, 12), _berlin(2027, 3, 15, 12)),
        # days are exact instants (24 hours each), as retention_days always was
        ("90 days", _berlin(2027, 4, 15, 12), _berlin(2027, 1, 15, 11)),
        # from the end of the year: a calendar year expires whole, on 1 January, local time
        ("10 years from the end of the year", _berlin(2026, 3, 1), _berlin(2016, 1, 1)),
        ("10 years from the end of the year", _berlin(2025, 12, 31, 23, 59), _berlin(2015, 1, 1)),
        ("10 years from the end of the year", _berlin(2026, 1, 1, 0, 0), _berlin(2016, 1, 1)),
        ("6 months from the end of the year", _berlin(2027, 6, 30, 23), _berlin(2026, 1, 1)),
        ("6 months from the end of the year", _berlin(2027, 7, 1, 0), _berlin(2027, 1, 1)),
        (
            "30 days from the end of the calendar year",
            _berlin(2027, 1, 30, 23),
            _berlin(2026, 1, 1),
        ),
        ("30 days from the end of the year", _berlin(2027, 1, 31, 1), _berlin(2027, 1, 1)),
    ],
)
def test_it_computes_the_cutoff_exactly(text: str, now: datetime, cutoff: datetime) -> None:
    assert _cut(text, now) == cutoff
    assert _cut(text, now.astimezone(UTC)) == cutoff  # the same instant, said in UTC


def test_it_lets_a_record_of_2015_go_at_midnight_in_the_clients_zone_not_in_utc() -> None:
    ten = parse_retention("10 years from the end of the year")
    before = datetime(2025, 12, 31, 22, 59, tzinfo=UTC)  # 23:59 in Berlin: 2015 still kept
    at = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)  # midnight in Berlin
    assert ten.cutoff(before, BERLIN).year == 2015
    assert ten.cutoff(at, BERLIN) == _berlin(2016, 1, 1)


@pytest.mark.parametrize(
    ("text", "value", "canonical", "words"),
    [
        ("90 days", Retention(90, "days"), "90 days", "90 days: a record older than that goes"),
        ("1 Month", Retention(1, "months"), "1 month", "1 month: a record older than that goes"),
        ("10 years from the end of the year", Retention(10, "years", True),
         "10 years from the end of the year",
         "10 years from the end of the calendar year of each record; "
         "a record of 2020 is kept until 31 December 2030"),
        ("6  months from the end of the calendar year", Retention(6, "months", True),
         "6 months from the end of the year",
         "6 months from the end of the calendar year of each record"),
    ],
)  # fmt: skip
def test_it_reads_writes_and_says_each_form(
    text: str, value: Retention, canonical: str, words: str
) -> None:
    assert parse_retention(text) == value
    assert str(value) == canonical and parse_retention(canonical) == value
    assert value.words() == words


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (90, 'write a retention with its unit: "90 days", "18 months", "10 years" or "10 years from the end of the year"'),
        ("10 yrs", 'not a retention; write "90 days", "18 months", "10 years" or "10 years from the end of the year"'),
        ("2 weeks", 'not a retention; write "90 days", "18 months", "10 years" or "10 years from the end of the year"'),
        ("0 days", "a retention of 1 to 36,500 days (a hundred years at most)"),
        ("101 years", "a retention of 1 to 100 years (a hundred years at most)"),
        ("99999999999 months", 'not a retention; write "90 days", "18 months", "10 years" or "10 years from the end of the year"'),
    ],
)  # fmt: skip
def test_it_refuses_what_is_not_a_retention(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_retention(value)
    assert str(caught.value) == message


def test_it_writes_the_period_back_as_the_binder_says_it() -> None:
    proc = purge_proc(retention_days=None, retention="10 Years from the end of the year")
    dumped = proc.params.model_dump(mode="python", by_alias=True, exclude_none=True)
    assert dumped["retention"] == "10 years from the end of the year"
    assert "retention: 10 years from the end of the year" in dump(dumped)


@pytest.mark.parametrize(
    ("cron", "cadence"),
    [("0 6 1 1,4,7,10 *", "quarterly"), ("0 6 1 */3 *", "quarterly"),
     ("0 6 1 jan,apr,jul,oct *", "quarterly"), ("0 6 1 2-12/3 *", "quarterly"),
     ("0 9 1 1 *", "yearly"), ("0 9 1 1,7 *", "yearly"), ("0 9 1 * *", "monthly")],
)  # fmt: skip
def test_it_derives_the_quarterly_cadence_from_the_cron(cron: str, cadence: str) -> None:
    from opsbinder.config.schedules import cadence_of

    assert cadence_of(cron) == cadence
