"""Who hears about a Severity-1 incident: the binder's stakeholders plus people added during it.

Stakeholders get a short notice that there is a new update, with the link to the client's status
page; the page, not the message, holds the text, so a correction never leaves a wrong e-mail as
the last word. People added during an incident (the account executive, a client's manager) are
timeline events of kind `stakeholder_added`, so the list is append-only like the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.errors import NotFound, Refused
from opsbinder.settings import get_settings
from opsbinder.store.models import Incident, IncidentEvent, StatusUpdate


@dataclass(frozen=True)
class StakeholderView:
    contact: str
    name: str
    role: str
    email: str | None
    source: str  # "binder" or "added"
    account_executive: bool


def stakeholders(session: Session, incident: Incident) -> list[StakeholderView]:
    cb = client_binder(session, incident.client_id)
    contacts = {c.id: c for c in cb.contacts}
    seen: dict[str, StakeholderView] = {}
    for s in cb.stakeholders:
        c = contacts.get(s.contact)
        if c is None or incident.severity not in s.severities:
            continue
        seen[c.id] = StakeholderView(c.id, c.name, c.role, c.email, "binder", s.account_executive)
    added = session.execute(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "stakeholder_added")
        .order_by(IncidentEvent.id)
    ).scalars()
    for event in added:
        cid = str(event.data.get("contact"))
        c = contacts.get(cid)
        if c is None or cid in seen:
            continue
        is_ae = cb.client.account_executive == cid
        seen[cid] = StakeholderView(c.id, c.name, c.role, c.email, "added", is_ae)
    return list(seen.values())


def add_stakeholder(
    session: Session, clock: Clock, incident_id: int, *, contact: str, actor: str
) -> StakeholderView:
    """Add a contact of the client's binder (e.g. the account executive) to this incident."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"incident: no incident #{incident_id}")
    cb = client_binder(session, incident.client_id)
    if contact == "account_executive":
        if not cb.client.account_executive:
            raise NotFound(f"client {incident.client_id!r} names no account_executive")
        contact = cb.client.account_executive
    match = next((c for c in cb.contacts if c.id == contact), None)
    if match is None:
        raise NotFound(f"contact: {contact!r} is not a contact of client {incident.client_id!r}")
    if any(s.contact == contact for s in stakeholders(session, incident)):
        raise Refused(f"contact: {contact!r} is already a stakeholder of #{incident_id}")
    session.add(
        IncidentEvent(
            incident_id=incident_id,
            at=utc(clock.now()),
            kind="stakeholder_added",
            actor=actor,
            message=f"{match.name} added as stakeholder",
            data={"contact": contact},
        )
    )
    session.flush()
    audit.record(
        session,
        clock,
        actor=actor,
        action="incident.stakeholder_added",
        object_type="incident",
        object_id=str(incident_id),
        client_id=incident.client_id,
        details={"contact": contact},
    )
    return next(s for s in stakeholders(session, incident) if s.contact == contact)


def page_link(client_id: str, incident_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/status/{client_id}#incident-{incident_id}"


def notify_update(session: Session, clock: Clock, incident: Incident, update: StatusUpdate) -> int:
    """Queue one notice per stakeholder through the outbox; the idempotency key makes it once."""
    count = 0
    link = page_link(incident.client_id, incident.id)
    for person in stakeholders(session, incident):
        _enqueue(
            session,
            clock,
            client_id=incident.client_id,
            incident_id=incident.id,
            contact_id=person.contact,
            idempotency_key=f"status-update:{incident.id}:{update.seq}:{person.contact}",
            payload={
                "event": "status_update",
                "title": f"[{incident.client_id}] Update #{update.seq} on incident "
                f"#{incident.id}: {incident.title}",
                "body": f"A new status update is on the status page: {link}",
                "link": link,
                "incident_id": incident.id,
                "seq": update.seq,
            },
        )
        count += 1
    return count


def _enqueue(session: Session, clock: Clock, **message: object) -> None:
    """TEMPORARY until opsbinder.outbox lands: the seam that hands a notice to the outbox."""
    from opsbinder.store.models import OutboxMessage

    now = utc(clock.now())
    key = str(message["idempotency_key"])
    if session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
    ).first():
        return
    session.add(
        OutboxMessage(
            client_id=message["client_id"],
            incident_id=message["incident_id"],
            channel="contact",
            target=str(message["contact_id"]),
            recipient=str(message["contact_id"]),
            payload=message["payload"],
            idempotency_key=key,
            created_at=now,
            next_attempt_at=now,
        )
    )
