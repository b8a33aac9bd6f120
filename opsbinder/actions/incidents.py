"""Acting on an incident: acknowledge, resolve, reopen, note, assign, stakeholders, commander,
and Severity-1 status updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from opsbinder.authorization import Action, Principal, Target, authorize
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.incidents import lifecycle, stakeholders, status_updates, update_cadence
from opsbinder.incidents.stakeholders import StakeholderView
from opsbinder.local_time import LocalTime, parse_local
from opsbinder.store.models import Client, Incident, IncidentEvent, StatusUpdate


def visible(session: Session, principal: Principal, incident_id: int) -> Incident:
    """The incident, or NotFound when it does not exist or its client is not the principal's."""
    incident = session.get(Incident, incident_id)
    if incident is None or not principal.sees(incident.client_id):
        raise NotFound(f"no incident #{incident_id}")
    return incident


def _allow(
    session: Session, clock: Clock, principal: Principal, action: Action, incident_id: int
) -> Incident:
    incident = visible(session, principal, incident_id)
    authorize(session, clock, principal, action, Target.incident(incident))
    return incident


def acknowledge(
    session: Session, clock: Clock, principal: Principal, incident_id: int, message: str = ""
) -> Incident:
    _allow(session, clock, principal, Action.ACKNOWLEDGE, incident_id)
    return lifecycle.acknowledge(
        session, clock, incident_id, actor=principal.actor, message=message
    )


def resolve(
    session: Session, clock: Clock, principal: Principal, incident_id: int, message: str = ""
) -> Incident:
    _allow(session, clock, principal, Action.RESOLVE, incident_id)
    return lifecycle.resolve(session, clock, incident_id, actor=principal.actor, message=message)


def reopen(
    session: Session, clock: Clock, principal: Principal, incident_id: int, message: str = ""
) -> Incident:
    _allow(session, clock, principal, Action.REOPEN, incident_id)
    return lifecycle.reopen(session, clock, incident_id, actor=principal.actor, message=message)


def note(
    session: Session, clock: Clock, principal: Principal, incident_id: int, message: str
) -> IncidentEvent:
    _allow(session, clock, principal, Action.NOTE, incident_id)
    return lifecycle.add_note(session, clock, incident_id, actor=principal.actor, message=message)


def assign(
    session: Session, clock: Clock, principal: Principal, incident_id: int, assignee: str
) -> Incident:
    _allow(session, clock, principal, Action.ASSIGN, incident_id)
    return lifecycle.assign(session, clock, incident_id, actor=principal.actor, assignee=assignee)


def add_stakeholder(
    session: Session, clock: Clock, principal: Principal, incident_id: int, contact: str
) -> StakeholderView:
    _allow(session, clock, principal, Action.STAKEHOLDER, incident_id)
    return stakeholders.add_stakeholder(
        session, clock, incident_id, contact=contact, actor=principal.actor
    )


def set_commander(
    session: Session, clock: Clock, principal: Principal, incident_id: int, contact: str
) -> Incident:
    _allow(session, clock, principal, Action.COMMANDER, incident_id)
    return update_cadence.set_commander(
        session, clock, incident_id, contact=contact, actor=principal.actor
    )


def post_update(
    session: Session,
    clock: Clock,
    principal: Principal,
    incident_id: int,
    *,
    current_status: str,
    next_steps: str,
    business_impact: str,
    bridge_url: str = "",
    next_update_at: datetime | None = None,
    corrects_seq: int | None = None,
    force: bool = False,
) -> StatusUpdate:
    _allow(session, clock, principal, Action.POST_UPDATE, incident_id)
    return status_updates.post_update(
        session,
        clock,
        incident_id,
        author=principal.actor,
        current_status=current_status,
        next_steps=next_steps,
        business_impact=business_impact,
        bridge_url=bridge_url,
        next_update_at=next_update_at,
        corrects_seq=corrects_seq,
        force=force,
    )


def client_zone(session: Session, incident: Incident) -> str:
    client = session.get(Client, incident.client_id)
    return client.timezone if client is not None else "UTC"


def local_time_of(session: Session, incident: Incident, text: str, field: str) -> LocalTime:
    """A time a person typed for this incident, meant in its client's zone."""
    return parse_local(text, client_zone(session, incident), field=field)
