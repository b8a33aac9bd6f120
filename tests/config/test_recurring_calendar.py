"""Recurring maintenance windows (RRULE or cron plus duration) and holidays (RRULE), and a
holiday that moves a run to the next working day: exact instants in the client's zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from opsbinder.calendar import moved_to, suppression, windows_between
from opsbinder.config.loader import load_binder
from opsbinder.config.models import ClientBinder, Holiday, MaintenanceWindow

BERLIN = ZoneInfo("Europe/Berlin")
PURGE = "purge-tracking-events"


@pytest.fixture
def nordhafen(example_dir) -> ClientBinder:  # type: ignore[no-untyped-def]
    return load_binder(example_dir).client("nordhafen")


def _with(binder: ClientBinder, windows=(), holidays=()) -> ClientBinder:  # type: ignore[no-untyped-def]
    return binder.model_copy(
        update={"maintenance_windows": list(windows), "holidays": list(holidays)}
    )


def _berlin(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


SUNDAY_RRULE = MaintenanceWindow.model_validate(
    {"name": "Sunday patching", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start": "2027-01-03T22:00:00",
     "duration": "6h"}
)  # fmt: skip
SUNDAY_CRON = MaintenanceWindow.model_validate(
    {"name": "Sunday patching", "cron": "0 22 * * 0", "duration": "6h"}
)


@pytest.mark.parametrize("window", [SUNDAY_RRULE, SUNDAY_CRON], ids=["rrule", "cron"])
def test_it_skips_runs_in_every_occurrence_and_keeps_the_wall_clock_across_dst(
    nordhafen: ClientBinder, window: MaintenanceWindow
) -> None:
    cb = _with(nordhafen, [window])
    reason = "maintenance window 'Sunday patching'"
    assert suppression(cb, PURGE, _berlin(2027, 1, 10, 21, 59)) is None
    assert suppression(cb, PURGE, _berlin(2027, 1, 10, 22, 0)) == reason
    assert suppression(cb, PURGE, _berlin(2027, 1, 11, 3, 59)) == reason
    assert suppression(cb, PURGE, _berlin(2027, 1, 11, 4, 0)) is None  # the end goes ahead
    # 2027-03-28 is the spring-forward Sunday: the window still opens at 22:00 local (CEST)
    assert suppression(cb, PURGE, datetime(2027, 3, 28, 19, 59, tzinfo=UTC)) is None
    assert suppression(cb, PURGE, datetime(2027, 3, 28, 20, 0, tzinfo=UTC)) == reason
    found = windows_between(cb, _berlin(2027, 3, 1), _berlin(2027, 3, 15))
    assert [(w.start, w.end) for w in found] == [
        (datetime(2027, 2, 28, 21, tzinfo=UTC), datetime(2027, 3, 1, 3, tzinfo=UTC)),
        (datetime(2027, 3, 7, 21, tzinfo=UTC), datetime(2027, 3, 8, 3, tzinfo=UTC)),
        (datetime(2027, 3, 14, 21, tzinfo=UTC), datetime(2027, 3, 15, 3, tzinfo=UTC)),
    ]


def test_it_starts_an_rrule_window_at_its_first_occurrence(nordhafen: ClientBinder) -> None:
    cb = _with(nordhafen, [SUNDAY_RRULE])
    assert suppression(cb, PURGE, _berlin(2026, 12, 27, 23, 0)) is None  # before the start
    assert suppression(cb, PURGE, _berlin(2027, 1, 3, 23, 0)) is not None


EASTER_MONDAY = Holiday.model_validate({"rrule": "FREQ=YEARLY;BYEASTER=1", "name": "Easter Monday"})
CHRISTMAS = Holiday.model_validate(
    {"rrule": "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25,26", "name": "Christmas",
     "then": "next_working_day"}
)  # fmt: skip


def test_it_skips_a_recurring_holiday_every_year(nordhafen: ClientBinder) -> None:
    cb = _with(nordhafen, holidays=[EASTER_MONDAY])
    assert suppression(cb, PURGE, _berlin(2027, 3, 29, 1, 15)) == "holiday 2027-03-29 Easter Monday"
    assert suppression(cb, PURGE, _berlin(2028, 4, 17, 1, 15)) == "holiday 2028-04-17 Easter Monday"
    assert suppression(cb, PURGE, _berlin(2027, 3, 30, 1, 15)) is None
    assert moved_to(cb, PURGE, _berlin(2027, 3, 29, 1, 15)) is None  # skipped, not moved


def test_it_moves_a_run_to_the_next_working_day_past_weekends_and_other_holidays(
    nordhafen: ClientBinder,
) -> None:
    new_year = Holiday.model_validate({"date": "2027-12-27", "name": "Bridge day"})
    cb = _with(nordhafen, holidays=[CHRISTMAS, new_year])
    # Fri 2026-12-25 and Sat 26: the next working day is Monday 28
    assert moved_to(cb, PURGE, _berlin(2026, 12, 25, 1, 15)) == _berlin(2026, 12, 28, 1, 15)
    assert suppression(cb, PURGE, _berlin(2026, 12, 25, 1, 15)) == (
        "holiday 2026-12-25 Christmas: moved to the next working day, Mon 2026-12-28 01:15"
    )
    # Sat 2027-12-25, Sun 26 (Christmas), Mon 27 (bridge day): Tuesday 28
    assert moved_to(cb, PURGE, _berlin(2027, 12, 26, 6, 30)) == _berlin(2027, 12, 28, 6, 30)
    assert moved_to(cb, PURGE, _berlin(2027, 12, 28, 6, 30)) is None  # a working day


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "w", "rrule": "FREQ=WEEKLY;BYDAY=SU", "start": "2027-01-03T22:00:00"},
         "missing: how long each window lasts, e.g. 6h"),
        ({"name": "w", "rrule": "FREQ=WEEKLY", "cron": "0 22 * * 0", "start": "2027-01-03T22:00:00",
          "duration": "6h"}, "give rrule or cron, not both"),
        ({"name": "w", "cron": "0 22 * * 0", "duration": "6h", "end": "2027-01-03T23:00:00"},
         "a recurring window lasts a duration; remove end"),
        ({"name": "w", "rrule": "FREQ=WEEKLY", "duration": "6h"},
         "missing: the first window's start, which the rrule repeats"),
        ({"name": "w", "rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "start": "2027-01-03T22:00:00",
          "duration": "6h"}, "this rule never occurs: no month has that day"),
        ({"name": "w", "rrule": "FREQ=MINUTELY", "start": "2027-01-03T22:00:00", "duration": "6h"},
         "FREQ must be one of DAILY, WEEKLY, MONTHLY, YEARLY"),
        ({"name": "w", "rrule": "FREQ=WEEKLY;DTSTART=20270101", "start": "2027-01-03T22:00:00",
          "duration": "6h"},
         "RRULE part 'DTSTART' is not supported here; use BYDAY, BYEASTER, BYHOUR, BYMINUTE, "
         "BYMONTH, BYMONTHDAY, BYSETPOS, COUNT, FREQ, INTERVAL, UNTIL"),
        ({"name": "w", "rrule": "FREQ=MONTHLY;BYDAY=6SU", "start": "2027-01-03T22:00:00",
          "duration": "6h"}, "BYDAY takes MO..SU (numbered: -5 to 5 before a weekday), not '6SU'"),
    ],
)  # fmt: skip
def test_it_refuses_a_window_that_is_not_one_form_or_never_occurs(data, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as caught:
        MaintenanceWindow.model_validate(data)
    (error,) = caught.value.errors()  # type: ignore[attr-defined]
    assert error["msg"].removeprefix("Value error, ") == message
