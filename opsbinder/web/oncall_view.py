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
    client_id: str
    schedule: str
    contact: str
    name: str
    phone: str


def now_on_call(session: Session, clock: Clock, client_id: str | None = None) -> list[OnCallRow]:
    """Every client's schedules, or one client's when `client_id` is given."""
    try:
        from opsbinder import oncall
    except ImportError:
        return []
    rows: list[OnCallRow] = []
    now = clock.now()
    query = select(Client).order_by(Client.name)
    if client_id is not None:
        query = query.where(Client.id == client_id)
    for client in session.execute(query).scalars():
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
