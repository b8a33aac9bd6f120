"""Who is on call, per client and schedule: now (the console's and the API's list) and over the
next days (the console's timeline: shifts, overrides, gaps). `opsbinder.oncall` decides who is
on; this module only lays its answer out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import oncall
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.config.models import Contact, OnCallSchedule
from opsbinder.store.models import Client

TIMELINE_DAYS = 14


@dataclass(frozen=True)
class OnCallRow:
    client: str
    client_id: str
    schedule: str
    contact: str
    name: str
    phone: str


@dataclass(frozen=True)
class Slot:
    """One shift of the timeline: a person, an override of one, or a gap (contact None)."""

    contact: str | None
    name: str
    start: datetime
    end: datetime
    override: str | None = None  # the override's reason ("" if none given) when it is one
    share: float = 0.0  # of the timeline's length, for the bar

    @property
    def gap(self) -> bool:
        return self.contact is None


@dataclass(frozen=True)
class Timeline:
    client: str
    client_id: str
    timezone: str  # the client's, for times
    schedule: str
    schedule_id: str
    now: Slot  # who is on at this instant, until when
    phone: str
    slots: list[Slot] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    @property
    def gaps(self) -> list[Slot]:
        return [s for s in self.slots if s.gap]


def _clients(session: Session, client_id: str | None) -> list[Client]:
    query = select(Client).order_by(Client.name)
    if client_id is not None:
        query = query.where(Client.id == client_id)
    return list(session.execute(query).scalars())


def now_on_call(session: Session, clock: Clock, client_id: str | None = None) -> list[OnCallRow]:
    """Every client's schedules, or one client's when `client_id` is given."""
    rows: list[OnCallRow] = []
    now = clock.now()
    for client in _clients(session, client_id):
        cb = client_binder(session, client.id)
        contacts = {c.id: c for c in cb.contacts}
        for schedule in cb.oncall_schedules:
            who = oncall.on_call(schedule, now)
            person = contacts.get(who) if who else None
            rows.append(
                OnCallRow(
                    client.name,
                    client.id,
                    schedule.name or schedule.id,
                    who or "—",
                    person.name if person else "nobody",
                    (person.phone or "") if person else "",
                )
            )
    return rows


def timelines(
    session: Session, clock: Clock, days: int = TIMELINE_DAYS, client_id: str | None = None
) -> list[Timeline]:
    """Each schedule from now for `days`: who is on now and until when, every shift after."""
    start = utc(clock.now())
    end = start + timedelta(days=days)
    result: list[Timeline] = []
    for client in _clients(session, client_id):
        cb = client_binder(session, client.id)
        contacts = {c.id: c for c in cb.contacts}
        for schedule in cb.oncall_schedules:
            slots = _slots(schedule, contacts, start, end)
            current = slots[0]
            person = contacts.get(current.contact) if current.contact else None
            result.append(
                Timeline(
                    client=client.name,
                    client_id=client.id,
                    timezone=client.timezone,
                    schedule=schedule.name or schedule.id,
                    schedule_id=schedule.id,
                    now=current,
                    phone=(person.phone or "") if person else "",
                    slots=slots,
                    start=start,
                    end=end,
                )
            )
    return result


def _slots(
    schedule: OnCallSchedule, contacts: dict[str, Contact], start: datetime, end: datetime
) -> list[Slot]:
    overrides = oncall.overrides_between(schedule, start, end)
    total = (end - start).total_seconds()
    slots = []
    for shift in oncall.shifts(schedule, start, end):
        reason = next(
            (
                o.reason
                for since, until, o in overrides
                if o.contact == shift.contact and since < shift.end and until > shift.start
            ),
            None,
        )
        person = contacts.get(shift.contact) if shift.contact else None
        slots.append(
            Slot(
                contact=shift.contact,
                name=person.name if person else (shift.contact or "nobody on call"),
                start=shift.start,
                end=shift.end,
                override=reason,
                share=(shift.end - shift.start).total_seconds() / total,
            )
        )
    return slots
