"""Who is on call now, per client and schedule, for the console's on-call page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock
from opsbinder.store.models import Client


@dataclass(frozen=True)
class OnCallRow:
    client: str
    schedule: str
    contact: str
    name: str
    phone: str


def now_on_call(session: Session, clock: Clock) -> list[OnCallRow]:
    try:
        from opsbinder import oncall
    except ImportError:
        return []
    rows: list[OnCallRow] = []
    now = clock.now()
    for client in session.execute(select(Client).order_by(Client.name)).scalars():
        cb = client_binder(session, client.id)
        contacts = {c.id: c for c in cb.contacts}
        for schedule in cb.oncall_schedules:
            who = oncall.on_call(schedule, now)
            person = contacts.get(who) if who else None
            rows.append(
                OnCallRow(
                    client.name,
                    schedule.name or schedule.id,
                    who or "—",
                    person.name if person else "nobody",
                    (person.phone or "") if person else "",
                )
            )
    return rows
