"""Linking a duplicate incident to its primary: the same outage reported twice (a client's call
and the monitor's alert) is worked, and told to the client, once.

The duplicate is resolved (if it was open) with a pointer to the primary, and leaves the status
page; both timelines say so. Links are one level deep: a primary is never itself a duplicate,
so following a link always ends at once. Both incidents belong to one client: another client's
incident is "not found", exactly as if it did not exist.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.errors import BadInput, NotFound
from opsbinder.incidents import lifecycle
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.store.models import Incident


def link(
    session: Session, clock: Clock, incident_id: int, primary_id: int, *, actor: str
) -> Incident:
    if incident_id == primary_id:
        raise BadInput(f"primary: #{primary_id} cannot be a duplicate of itself")
    incident = lifecycle.get(session, incident_id, lock=True)
    primary = session.get(Incident, primary_id)
    if primary is None or primary.client_id != incident.client_id:
        raise NotFound(f"no incident #{primary_id}")
    if incident.primary_incident_id is not None:
        raise IncidentStateError(
            f"incident #{incident.id} is already a duplicate of #{incident.primary_incident_id}"
        )
    if primary.primary_incident_id is not None:
        raise IncidentStateError(
            f"incident #{primary.id} is itself a duplicate of #{primary.primary_incident_id}; "
            f"link to #{primary.primary_incident_id}"
        )
    has_duplicates = session.execute(
        select(Incident.id).where(Incident.primary_incident_id == incident.id).limit(1)
    ).first()
    if has_duplicates is not None:
        raise IncidentStateError(
            f"incident #{incident.id} is the primary of other incidents; it cannot be a duplicate"
        )
    incident.primary_incident_id = primary.id
    lifecycle.record_event(
        session,
        clock,
        incident,
        "duplicate",
        actor,
        f"duplicate of #{primary.id}",
        {"primary": primary.id},
    )
    lifecycle.record_event(
        session,
        clock,
        primary,
        "duplicate_linked",
        actor,
        f"#{incident.id} linked as a duplicate",
        {"duplicate": incident.id},
    )
    if incident.state != "resolved":
        incident.state = incident.public_state = "resolved"
        incident.resolved_at, incident.resolved_by = utc(clock.now()), actor
        incident.next_update_due = None
        lifecycle.record_event(
            session, clock, incident, "resolved", actor, f"resolved as a duplicate of #{primary.id}"
        )
    return incident


def duplicates_of(session: Session, primary_id: int) -> list[Incident]:
    return list(
        session.execute(
            select(Incident).where(Incident.primary_incident_id == primary_id).order_by(Incident.id)
        ).scalars()
    )
