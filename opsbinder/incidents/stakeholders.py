"""Who hears about a Severity-1 incident: the binder's stakeholders plus people added during it.

Stakeholders get a short notice that there is a new update, with the link to the client's status
page; the page, not the message, holds the text, so a correction never leaves a wrong e-mail as
the last word. People added during an incident (the account executive, a client's manager) are
timeline events of kind `stakeholder_added`, so the list is append-only like the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import environment
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.errors import NotFound, Refused
from opsbinder.incidents import delivery, lifecycle
from opsbinder.incidents.escalation import Action
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
    lifecycle.record_event(
        session,
        clock,
        incident,
        "stakeholder_added",
        actor,
        f"{match.name} added as stakeholder",
        {"contact": contact},
    )
    return next(s for s in stakeholders(session, incident) if s.contact == contact)


def page_link(client_id: str, incident_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/status/{client_id}#incident-{incident_id}"


def notify_update(
    session: Session,
    clock: Clock,
    incident: Incident,
    update: StatusUpdate,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Queue a notice per stakeholder channel; the idempotency key makes each one happen once.

    Channels are the contact's own (webhook, chat, e-mail when SMTP is configured), found the
    same way escalation finds them. A stakeholder with no channel is noted on the timeline.
    """
    environ = environment.variables(environ)
    cb = client_binder(session, incident.client_id)
    link = page_link(incident.client_id, incident.id)
    title = f"[{incident.client_id}] Severity-1 update #{update.seq}: {incident.title}"
    body = {
        "event": "status_update.posted",
        "title": title,
        "text": f"{title}\nThe update is on the status page: {link}",
        "link": link,
        "incident": {"id": incident.id, "client": incident.client_id, "title": incident.title},
        "seq": update.seq,
        "corrects_seq": update.corrects_seq,
    }
    count = 0
    unreachable = []
    for person in stakeholders(session, incident):
        key = f"inc/{incident.id}/update/{update.seq}/stakeholder/{person.contact}"
        action = Action(
            kind="notify",
            key=key,
            due_at=utc(clock.now()),
            step=0,
            level=0,
            level_name="stakeholders",
            round=0,
            target={"contact": person.contact},
            recipient=person.contact,
            reason="new Severity-1 status update",
        )
        messages, _contact = delivery.routes_for(cb, action, environ)
        if not messages:
            unreachable.append(person.contact)
        notice = {**body, "recipient": {"id": person.contact, "name": person.name}}
        count += len(delivery.enqueue(session, clock, incident, action, messages, notice))
    if unreachable:
        lifecycle.record_event(
            session,
            clock,
            incident,
            "notify_skipped",
            "status-updates",
            f"no channel to reach stakeholder(s) {', '.join(unreachable)} about update "
            f"#{update.seq}",
            {"contacts": unreachable, "seq": update.seq},
        )
    return count
