"""Acting on an incident: declare, acknowledge, resolve, reopen, note, assign, stakeholders,
commander, severity, duplicates, waiting on the client, the public view and status updates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.authorization import Action, Principal, Target, authorize
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.incidents import (
    declaration,
    duplicates,
    lifecycle,
    public,
    severity,
    stakeholders,
    status_updates,
    update_cadence,
    waits,
)
from opsbinder.incidents.stakeholders import StakeholderView
from opsbinder.local_time import LocalTime, parse_local
from opsbinder.store.models import Client, Incident, IncidentEvent, StatusUpdate, User

# Who a status update is from, for a client, when the poster proved no console account: a
# shell login ("root") or a service token's prefix means nothing to them and says too much.
SUPPORT_TEAM = "Support team"


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


def declare(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    client_id: str,
    severity: str,
    title: str,
    public_title: str = "",
    impact: str = "",
    dedup_key: str | None = None,
    component: str | None = None,
) -> Incident:
    authorize(session, clock, principal, Action.DECLARE, Target.client(client_id))
    if session.get(Client, client_id) is None:
        raise NotFound(f"no client {client_id!r}")
    return declaration.declare(
        session,
        clock,
        client_id=client_id,
        severity_=severity,
        title=title,
        public_title=public_title,
        impact=impact,
        dedup_key=dedup_key,
        component=component,
        actor=principal.actor,
    )


def change_severity(
    session: Session,
    clock: Clock,
    principal: Principal,
    incident_id: int,
    new: str,
    reason: str = "",
) -> Incident:
    _allow(session, clock, principal, Action.SEVERITY, incident_id)
    return severity.change(
        session, clock, incident_id, severity=new, actor=principal.actor, reason=reason
    )


def link_duplicate(
    session: Session, clock: Clock, principal: Principal, incident_id: int, primary_id: int
) -> Incident:
    """The primary must be one the principal sees, of the same client: else "not found"."""
    _allow(session, clock, principal, Action.DUPLICATE, incident_id)
    visible(session, principal, primary_id)
    return duplicates.link(session, clock, incident_id, primary_id, actor=principal.actor)


def set_public(
    session: Session,
    clock: Clock,
    principal: Principal,
    incident_id: int,
    *,
    title: str | None = None,
    state: str | None = None,
) -> Incident:
    _allow(session, clock, principal, Action.PUBLISH, incident_id)
    return public.set_public(
        session, clock, incident_id, actor=principal.actor, title=title, state=state
    )


def public_author(session: Session, principal: Principal) -> str:
    """The poster's display name: a proven user's, or the console account the CLI's operator
    name matches; otherwise the team's, never a login."""
    if principal.display_name:
        return principal.display_name
    if principal.is_operator:
        user = session.execute(
            select(User).where(User.username == principal.actor, User.active.is_(True))
        ).scalar_one_or_none()
        if user is not None and user.display_name:
            return user.display_name
    return SUPPORT_TEAM


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


def wait_on_client(
    session: Session,
    clock: Clock,
    principal: Principal,
    incident_id: int,
    *,
    waiting: bool,
    message: str = "",
) -> Incident:
    """Set (or clear) waiting on the client: the SLA clocks stand still while it lasts."""
    _allow(session, clock, principal, Action.WAIT, incident_id)
    change = waits.start_waiting if waiting else waits.stop_waiting
    return change(session, clock, incident_id, actor=principal.actor, message=message)


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
        author_name=public_author(session, principal),
    )


def client_zone(session: Session, incident: Incident) -> str:
    client = session.get(Client, incident.client_id)
    return client.timezone if client is not None else "UTC"


def local_time_of(session: Session, incident: Incident, text: str, field: str) -> LocalTime:
    """A time a person typed for this incident, meant in its client's zone."""
    return parse_local(text, client_zone(session, incident), field=field)
