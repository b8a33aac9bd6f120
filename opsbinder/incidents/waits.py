"""Waiting on the client: a state staff set and clear, during which SLA clocks stand still.

Each stretch is a row (`IncidentWait`) so the clocks can be recomputed exactly at any later
time (the evidence pack, the report); setting and clearing also go on the timeline and into
the audit log. Resolving an incident ends a wait still open.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.incidents import lifecycle
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.incidents.sla import Pause
from opsbinder.store.models import Incident, IncidentWait


def open_wait(session: Session, incident_id: int) -> IncidentWait | None:
    return session.execute(
        select(IncidentWait).where(
            IncidentWait.incident_id == incident_id, IncidentWait.ended_at.is_(None)
        )
    ).scalar_one_or_none()


def pauses_of(session: Session, incident_id: int) -> list[Pause]:
    return pauses_by_incident(session, [incident_id]).get(incident_id, [])


def pauses_by_incident(session: Session, incident_ids: Collection[int]) -> dict[int, list[Pause]]:
    """Every listed incident's waits in one query, for a pass over many incidents."""
    rows = session.execute(
        select(IncidentWait.incident_id, IncidentWait.started_at, IncidentWait.ended_at)
        .where(IncidentWait.incident_id.in_(incident_ids))
        .order_by(IncidentWait.incident_id, IncidentWait.started_at)
    ).all()
    found: dict[int, list[Pause]] = {}
    for incident_id, a, b in rows:
        found.setdefault(incident_id, []).append((utc(a), utc(b) if b is not None else None))
    return found


def start_waiting(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str = ""
) -> Incident:
    incident = lifecycle.get(session, incident_id, lock=True)
    if incident.state == "resolved":
        raise IncidentStateError(f"incident #{incident.id} is resolved; nothing to wait for")
    waiting = open_wait(session, incident_id)
    if waiting is not None:
        raise IncidentStateError(
            f"incident #{incident.id} already waits on the client since "
            f"{utc(waiting.started_at):%Y-%m-%d %H:%M} UTC ({waiting.started_by})"
        )
    session.add(
        IncidentWait(incident_id=incident.id, started_at=utc(clock.now()), started_by=actor)
    )
    lifecycle.record_event(
        session, clock, incident, "waiting_on_client", actor,
        message or "waiting on the client: SLA clocks paused",
    )  # fmt: skip
    return incident


def stop_waiting(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str = ""
) -> Incident:
    incident = lifecycle.get(session, incident_id, lock=True)
    waiting = open_wait(session, incident_id)
    if waiting is None:
        raise IncidentStateError(f"incident #{incident.id} is not waiting on the client")
    waiting.ended_at, waiting.ended_by = utc(clock.now()), actor
    lifecycle.record_event(
        session, clock, incident, "client_replied", actor,
        message or "no longer waiting on the client: SLA clocks run again",
        {"waited_since": utc(waiting.started_at).isoformat()},
    )  # fmt: skip
    return incident
