"""Who is on call: rotations handed off at a wall-clock time in the schedule's zone, layers
(later layers win where they are active), overrides for a window; plus an iCalendar export.

Hand-offs are wall-clock: "mon 09:00 Europe/Berlin" stays 09:00 local across DST changes, so
the shift around a change is an hour shorter or longer. Every comparison is between UTC
instants (datetimes sharing one ZoneInfo compare wall times and ignore `fold`). A hand-off
time that does not exist on a spring-forward day is read as PEP 495 does (fold=0: the offset
before the change), i.e. one hour later on the clock; one that occurs twice happens the first
time: the same rule as a typed time (`opsbinder.local_time`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from opsbinder.config.models import OnCallSchedule, Override, Rotation

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def first_handoff(rotation: Rotation) -> date:
    """`start`, moved forward to the rotation's hand-off weekday for weekly rotations."""
    if rotation.length == "daily" or rotation.handoff_day is None:
        return rotation.start
    offset = (WEEKDAYS.index(rotation.handoff_day) - rotation.start.weekday()) % 7
    return rotation.start + timedelta(days=offset)


def shift_index(rotation: Rotation, zone: ZoneInfo, instant: datetime) -> int | None:
    """How many hand-offs happened up to `instant` (0: the first shift), None before the first."""
    instant = instant.astimezone(UTC)
    day = instant.astimezone(zone).date()
    if instant < _instant(day, rotation.handoff_time, zone):
        day -= timedelta(days=1)
    days = (day - first_handoff(rotation)).days
    if days < 0:
        return None
    return days if rotation.length == "daily" else days // 7


def _restricted_out(rotation: Rotation, zone: ZoneInfo, instant: datetime) -> bool:
    start, end = rotation.restrict_from, rotation.restrict_to
    if start is None and end is None:
        return False
    now = instant.astimezone(zone).time().replace(tzinfo=None)
    start, end = start or time(0), end or time(0)
    if start < end:
        return not (start <= now < end)
    return end <= now < start  # a window across midnight, e.g. 18:00-08:00


def rotation_member(rotation: Rotation, zone: ZoneInfo, instant: datetime) -> str | None:
    if _restricted_out(rotation, zone, instant):
        return None
    index = shift_index(rotation, zone, instant)
    if index is None:
        return None
    return rotation.members[index % len(rotation.members)]


def _override_bounds(override: Override, zone: ZoneInfo) -> tuple[datetime, datetime]:
    def aware(value: datetime) -> datetime:
        return (value if value.tzinfo else value.replace(tzinfo=zone)).astimezone(UTC)

    return aware(override.start), aware(override.end)


def override_span(override: Override, zone_name: str) -> tuple[datetime, datetime]:
    """An override's bounds as UTC instants (naive times are the schedule's local time)."""
    return _override_bounds(override, ZoneInfo(zone_name))


def overrides_between(
    schedule: OnCallSchedule, start: datetime, end: datetime
) -> list[tuple[datetime, datetime, Override]]:
    """The overrides that touch [start, end), with their bounds as UTC instants."""
    zone = ZoneInfo(schedule.timezone)
    found = []
    for override in schedule.overrides:
        since, until = _override_bounds(override, zone)
        if since < end and until > start:
            found.append((since, until, override))
    return found


def on_call(schedule: OnCallSchedule, instant: datetime, layer: str | None = None) -> str | None:
    """The contact on call at `instant` (aware): the newest matching override, else the last
    layer with someone on, else None (a gap). With `layer` (a layer's name), who is on in that
    layer alone: its own overrides, else its rotation, so escalation can page layers in turn."""
    if instant.tzinfo is None:
        raise ValueError("on_call() needs a timezone-aware instant")
    zone = ZoneInfo(schedule.timezone)
    instant = instant.astimezone(UTC)
    if layer is None:  # an override without a layer stands in for the whole schedule
        for override in reversed(schedule.overrides):
            start, end = _override_bounds(override, zone)
            if override.layer is None and start <= instant < end:
                return override.contact
    rotations = [r for r in schedule.layers if layer is None or r.name == layer]
    for rotation in reversed(rotations):
        member = _layer_member(schedule, rotation, zone, instant)
        if member is not None:
            return member
    return None


def _layer_member(
    schedule: OnCallSchedule, rotation: Rotation, zone: ZoneInfo, instant: datetime
) -> str | None:
    """Who is on in one layer: an override of that layer, else its rotation."""
    for override in reversed(schedule.overrides):
        start, end = _override_bounds(override, zone)
        if override.layer and override.layer == rotation.name and start <= instant < end:
            return override.contact
    return rotation_member(rotation, zone, instant)


@dataclass(frozen=True)
class Shift:
    contact: str | None
    start: datetime
    end: datetime


def _boundaries(schedule: OnCallSchedule, start: datetime, end: datetime) -> list[datetime]:
    zone = ZoneInfo(schedule.timezone)
    points = {start, end}
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        for layer in schedule.layers:
            for at in (layer.handoff_time, layer.restrict_from, layer.restrict_to):
                if at is not None:
                    points.add(_instant(day, at, zone))
        points.add(_instant(day, time(0), zone))
        day += timedelta(days=1)
    for override in schedule.overrides:
        points.update(_override_bounds(override, zone))
    return sorted(p for p in points if start <= p <= end)


def shifts(schedule: OnCallSchedule, start: datetime, end: datetime) -> list[Shift]:
    """The final schedule between two instants, as consecutive shifts (gaps have contact None)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    points = _boundaries(schedule, start, end)
    result: list[Shift] = []
    for here, nxt in pairwise(points):
        who = on_call(schedule, here)
        if result and result[-1].contact == who:
            result[-1] = Shift(who, result[-1].start, nxt)
        else:
            result.append(Shift(who, here, nxt))
    return result


def ical(
    schedule: OnCallSchedule,
    start: datetime,
    end: datetime,
    *,
    names: dict[str, str] | None = None,
    contact: str | None = None,
) -> bytes:
    """An iCalendar feed of the shifts (one person's, when `contact` is given)."""
    from icalendar import Calendar, Event

    names = names or {}
    cal = Calendar()
    cal.add("prodid", "-//opsbinder//on-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"On call: {schedule.name or schedule.id}")
    cal.add("x-wr-timezone", schedule.timezone)
    # Start a month early so the first shift has its real start: UIDs stay the same from one
    # export to the next and a subscribed calendar updates events instead of duplicating them.
    for shift in shifts(schedule, start - timedelta(days=31), end):
        if shift.end <= start or shift.contact is None or (contact and shift.contact != contact):
            continue
        event = Event()
        event.add("uid", f"{schedule.id}-{shift.contact}-{shift.start:%Y%m%dT%H%M%SZ}@opsbinder")
        event.add("summary", f"On call: {names.get(shift.contact, shift.contact)}")
        event.add("description", f"{schedule.name or schedule.id} ({schedule.timezone})")
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("dtstamp", start)
        cal.add_component(event)
    data: bytes = cal.to_ical()
    return data
