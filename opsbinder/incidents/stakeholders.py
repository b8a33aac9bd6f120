"""Who hears about an incident: the binder's stakeholders (per severity) plus people added.

Stakeholders get a short notice that there is a new update, or that the incident became
Severity-1, with the link to the client's status page; the page, not the message, holds the text, so a correction never leaves a wrong e-mail as
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
    """Tell each stakeholder there is a new update; the page, not the message, holds its text."""
    label = f"update #{update.seq}"
    return _notify(
        session,
        clock,
        incident,
        key=f"inc/{incident.id}/update/{update.seq}",
        headline=label,
        reason=f"new status update ({incident.severity})",
        extra={
            "event": "status_update.posted",
            "seq": update.seq,
            "corrects_seq": update.corrects_seq,
        },
        environ=environ,
    )


def notify_severity1(
    session: Session,
    clock: Clock,
    incident: Incident,
    start: int,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Tell each Severity-1 stakeholder the incident is Severity-1 now (`start`: the how-many-th
    time it became Severity-1, so a raise after a lowering is told again, a repeat is not)."""
    return _notify(
        session,
        clock,
        incident,
        key=f"inc/{incident.id}/sev1/{start}",
        headline="declared Severity-1",
        reason="Severity-1 declared",
        extra={"event": "incident.severity1"},
        environ=environ,
    )


def notify_public_state(
    session: Session,
    clock: Clock,
    incident: Incident,
    event: IncidentEvent,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Tell each stakeholder what the client now reads as the incident's state (investigating,
    identified, monitoring, resolved); keyed by the timeline event that changed it, so each
    change is told once however often the sender retries."""
    state = incident.public_state
    return _notify(
        session,
        clock,
        incident,
        key=f"inc/{incident.id}/public/{event.id}",
        headline=f"now {state}",
        reason=f"public state: {state}",
        extra={"event": "incident.public_state", "public_state": state},
        environ=environ,
    )


def _notify(
    session: Session,
    clock: Clock,
    incident: Incident,
    *,
    key: str,
    headline: str,
    reason: str,
    extra: dict[str, object],
    environ: Mapping[str, str] | None,
) -> int:
    """Queue a notice per stakeholder channel; the idempotency key makes each one happen once.

    Channels are the contact's own (webhook, chat, e-mail when SMTP is configured), found the
    same way escalation finds them. A stakeholder with no channel is noted on the timeline.
    Stakeholders are the client's people: they read the public title, never the internal one.
    """
    from opsbinder.incidents.public import headline as public_headline

    environ = environment.variables(environ)
    cb = client_binder(session, incident.client_id)
    link = page_link(incident.client_id, incident.id)
    public = public_headline(incident)
    title = f"[{incident.client_id}] {incident.severity.upper()} {headline}: {public}"
    body = {
        **extra,
        "title": title,
        "text": f"{title}\nThe status page has the details: {link}",
        "link": link,
        "incident": {"id": incident.id, "client": incident.client_id, "title": public},
    }
    count = 0
    unreachable = []
    for person in stakeholders(session, incident):
        action = Action(
            kind="notify",
            key=f"{key}/stakeholder/{person.contact}",
            due_at=utc(clock.now()),
            step=0,
            level=0,
            level_name="stakeholders",
            round=0,
            target={"contact": person.contact},
            recipient=person.contact,
            reason=reason,
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
            "stakeholders",
            f"no channel to reach stakeholder(s) {', '.join(unreachable)} about: {headline}",
            {"contacts": unreachable, "key": key},
        )
    return count
