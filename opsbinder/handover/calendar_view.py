"""The client's calendar as the export's calendar page: each window and holiday, when it next
falls, and which runs it skips or moves.

The YAML says `FREQ=WEEKLY;BYDAY=SU` or `0 22 * * 6`; a successor needs the dates. So each entry
is shown as written and with its occurrences in the next months, computed by the same code
that decides at run time (opsbinder.calendar), never by a second reading of the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opsbinder import calendar
from opsbinder.config.models import ClientBinder, Holiday, MaintenanceWindow
from opsbinder.handover.words import duration_in_words

AHEAD = timedelta(days=365)
SHOWN = 6  # occurrences listed per entry; the rule says the rest


@dataclass(frozen=True)
class WindowEntry:
    window: MaintenanceWindow
    rule: str  # how the binder writes it
    next: list[tuple[datetime, datetime]]  # occurrences in the client's zone
    more: bool
    suppresses: list[str]  # procedure ids; empty: every procedure


@dataclass(frozen=True)
class HolidayEntry:
    holiday: Holiday
    rule: str
    next: list[date]
    more: bool
    suppresses: list[str]

    @property
    def effect(self) -> str:
        if self.holiday.then == "next_working_day":
            return "moved to the next working day"
        return "skipped"


@dataclass(frozen=True)
class CalendarView:
    windows: list[WindowEntry]
    holidays: list[HolidayEntry]


def view(binder: ClientBinder, now: datetime) -> CalendarView:
    zone = calendar.client_zone(binder)
    end = now + AHEAD
    windows = []
    for window in binder.maintenance_windows:
        found = calendar.windows_between(
            binder.model_copy(update={"maintenance_windows": [window]}), now, end
        )
        spans = [(w.start.astimezone(zone), w.end.astimezone(zone)) for w in found]  # type: ignore[union-attr]
        windows.append(
            WindowEntry(
                window,
                _window_rule(window),
                spans[:SHOWN],
                len(spans) > SHOWN,
                list(window.procedures),
            )
        )
    today = now.astimezone(zone).date()
    holidays = []
    for holiday in binder.holidays:
        days = _holiday_days(holiday, today, (end.astimezone(zone)).date())
        holidays.append(
            HolidayEntry(
                holiday,
                _holiday_rule(holiday),
                days[:SHOWN],
                len(days) > SHOWN,
                list(holiday.procedures),
            )
        )
    return CalendarView(windows, holidays)


def _window_rule(window: MaintenanceWindow) -> str:
    if window.rrule:
        return f"RRULE {window.rrule} from {window.start:%Y-%m-%d %H:%M}, {_lasting(window)}"
    if window.cron:
        return f"cron {window.cron}, {_lasting(window)}"
    return f"once, {window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M}"


def _lasting(window: MaintenanceWindow) -> str:
    return f"lasting {duration_in_words(window.duration)}"


def _holiday_rule(holiday: Holiday) -> str:
    return f"RRULE {holiday.rrule}" if holiday.rrule else f"once, {holiday.date}"


def _holiday_days(holiday: Holiday, first: date, last: date) -> list[date]:
    if not holiday.rrule:
        return [holiday.date] if holiday.date and first <= holiday.date <= last else []
    days: list[date] = []
    day = first
    while day <= last:
        if calendar.holiday_on(holiday, day):
            days.append(day)
        day += timedelta(days=1)
    return days
