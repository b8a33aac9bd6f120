"""When a client does not want its procedures to run: maintenance windows and holidays.

A run that falls in one is recorded as skipped (not missed), so the reason returned here ends up
in the run history and on the status page; it is written for people, not parsed. A holiday with
`then: next_working_day` moves the run instead: `moved_to` says when it runs.

Naive datetimes in a binder are the client's wall-clock time (`client.timezone`): people write
"2027-01-16 22:00" meaning their own evening. Holidays are calendar dates in that zone. A
recurring window repeats on the wall clock too: "every Sunday 22:00" stays 22:00 across DST.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from opsbinder.config.models import ClientBinder, Holiday, MaintenanceWindow
from opsbinder.config.models.recurrence import days_in_year, occurrences, rule_from

MAX_OCCURRENCES = 5000  # windows listed for one span: a status page, not a calendar dump
WORKING_DAYS = range(5)  # Monday to Friday


def client_zone(binder: ClientBinder) -> ZoneInfo:
    return ZoneInfo(binder.client.timezone)


def localize(binder: ClientBinder, value: datetime) -> datetime:
    """An aware datetime; a naive one is read as the client's local time.

    In the repeated hour of a fall-back change a naive time is ambiguous and in the spring-forward
    gap it does not exist; `opsbinder validate` refuses both in a binder (write an offset), so
    here `fold=0` (the first occurrence) only decides for values built in code.
    """
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=client_zone(binder))


def _applies(procedures: list[str], procedure_id: str) -> bool:
    return not procedures or procedure_id in procedures


def _one(window: MaintenanceWindow, start: datetime, end: datetime) -> MaintenanceWindow:
    """One occurrence, with UTC bounds: comparisons of datetimes sharing one ZoneInfo ignore
    `fold`, so in a repeated hour they would compare wall times, not instants."""
    return window.model_copy(
        update={
            "start": start.astimezone(UTC),
            "end": end.astimezone(UTC),
            "rrule": None,
            "cron": None,
            "duration": None,
        }
    )


def _occurrences(
    binder: ClientBinder, window: MaintenanceWindow, start: datetime, end: datetime
) -> Iterator[MaintenanceWindow]:
    """The occurrences of a window overlapping [start, end) (aware bounds)."""
    if not window.recurring:
        assert window.start is not None and window.end is not None
        one = _one(window, localize(binder, window.start), localize(binder, window.end))
        if one.start < end and one.end > start:  # type: ignore[operator]
            yield one
        return
    zone, length = client_zone(binder), window.duration or timedelta(0)
    first = (start - length).astimezone(zone)
    if window.start is not None:
        first = max(first, localize(binder, window.start).astimezone(zone))
    last = end.astimezone(zone)
    if window.rrule:
        assert window.start is not None
        dtstart = localize(binder, window.start).astimezone(zone).replace(tzinfo=None)
        rule = rule_from(window.rrule, dtstart)
        naive = (first.replace(tzinfo=None), last.replace(tzinfo=None))
        begins = [w.replace(tzinfo=zone) for w in occurrences(rule, *naive, MAX_OCCURRENCES)]
    else:
        it = croniter(str(window.cron), first - timedelta(seconds=1))
        begins = []
        while len(begins) < MAX_OCCURRENCES and (at := it.get_next(datetime)) <= last:
            begins.append(at)
    for begin in begins:
        if begin < end and begin + length > start:
            yield _one(window, begin, begin + length)


def holiday_on(holiday: Holiday, day: date) -> bool:
    if holiday.rrule:
        return day in days_in_year(holiday.rrule, day.year)
    return holiday.date == day


def _holiday(binder: ClientBinder, procedure_id: str, day: date) -> Holiday | None:
    return next(
        (h for h in binder.holidays if _applies(h.procedures, procedure_id) and holiday_on(h, day)),
        None,
    )


def suppression(binder: ClientBinder, procedure_id: str, instant: datetime) -> str | None:
    """Why the run of `procedure_id` scheduled at `instant` must be skipped, or None.

    A window covers [start, end): a run at the exact end time goes ahead, because windows are
    written as "until 06:00" and the 06:00 job is meant to run after the work.
    """
    if instant.tzinfo is None:
        raise ValueError("suppression() needs a timezone-aware instant")
    for window in binder.maintenance_windows:
        if not _applies(window.procedures, procedure_id):
            continue
        if next(_occurrences(binder, window, instant, instant + timedelta(seconds=1)), None):
            return f"maintenance window {window.name!r}"
    local = instant.astimezone(client_zone(binder))
    holiday = _holiday(binder, procedure_id, local.date())
    if holiday is None:
        return None
    reason = f"holiday {local.date().isoformat()} {holiday.name}".rstrip()
    if (moved := moved_to(binder, procedure_id, instant)) is not None:
        reason += f": moved to the next working day, {moved:%a %Y-%m-%d %H:%M}"
    return reason


def moved_to(binder: ClientBinder, procedure_id: str, instant: datetime) -> datetime | None:
    """When a run on a holiday that says `then: next_working_day` runs instead (same wall-clock
    time on the next Monday-to-Friday that is no holiday for it), or None."""
    zone = client_zone(binder)
    local = instant.astimezone(zone)
    holiday = _holiday(binder, procedure_id, local.date())
    if holiday is None or holiday.then != "next_working_day":
        return None
    day = local.date() + timedelta(days=1)
    for _ in range(366):
        if day.weekday() in WORKING_DAYS and _holiday(binder, procedure_id, day) is None:
            break
        day += timedelta(days=1)
    wall = datetime.combine(day, local.time().replace(tzinfo=None))
    return wall.replace(tzinfo=zone)


def windows_between(
    binder: ClientBinder, start: datetime, end: datetime
) -> list[MaintenanceWindow]:
    """Maintenance windows (each occurrence of a recurring one) overlapping [start, end),
    earliest first, with UTC start/end."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("windows_between() needs timezone-aware bounds")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    found = [w for window in binder.maintenance_windows
             for w in _occurrences(binder, window, start, end)]  # fmt: skip
    return sorted(found, key=lambda w: (w.start, w.name))
