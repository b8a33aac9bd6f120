"""When a client does not want its procedures to run: maintenance windows and holidays.

A run that falls in one is recorded as skipped (not missed), so the reason returned here ends up
in the run history and on the status page; it is written for people, not parsed.

Naive datetimes in a binder are the client's wall-clock time (`client.timezone`): people write
"2027-01-16 22:00" meaning their own evening. Holidays are calendar dates in that zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from opsbinder.config.models import ClientBinder, MaintenanceWindow


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


def _aware_window(binder: ClientBinder, window: MaintenanceWindow) -> MaintenanceWindow:
    """The window with UTC bounds: comparisons of datetimes sharing one ZoneInfo ignore `fold`,
    so in a repeated hour they would compare wall times, not instants."""
    return window.model_copy(
        update={
            "start": localize(binder, window.start).astimezone(UTC),
            "end": localize(binder, window.end).astimezone(UTC),
        }
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
        aware = _aware_window(binder, window)
        if aware.start <= instant.astimezone(UTC) < aware.end:
            return f"maintenance window {window.name!r}"
    local_day = instant.astimezone(client_zone(binder)).date()
    for holiday in binder.holidays:
        if holiday.date == local_day and _applies(holiday.procedures, procedure_id):
            return f"holiday {holiday.date.isoformat()} {holiday.name}".rstrip()
    return None


def windows_between(
    binder: ClientBinder, start: datetime, end: datetime
) -> list[MaintenanceWindow]:
    """Maintenance windows overlapping [start, end), earliest first, with UTC start/end."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("windows_between() needs timezone-aware bounds")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    aware = [_aware_window(binder, window) for window in binder.maintenance_windows]
    return sorted(
        (w for w in aware if w.start < end and w.end > start),
        key=lambda w: (w.start, w.name),
    )
