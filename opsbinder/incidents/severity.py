"""Changing an incident's severity, and the Severity-1 process a raise starts at once.

An incident a flow opens as Severity-1 gets its process from the minutely sweep: the
escalation engine informs `sev1_management`, the update cadence owes a first update within
`FIRST_UPDATE_WITHIN`. A person who declares Severity-1, or raises an incident to it, has just
said the building is on fire: `start` runs the same engine for this one incident now (so
management hears within the request, with the same idempotency keys the sweep would use), sets
the first update's due time from now, and tells the Severity-1 stakeholders. Lowering stops it:
the sweep and the cadence act on Severity-1 incidents only, and the due time is cleared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder import environment
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.errors import BadInput
from opsbinder.incidents import escalation, escalator, lifecycle, stakeholders
from opsbinder.incidents.lifecycle import SEVERITIES, IncidentStateError
from opsbinder.incidents.update_cadence import FIRST_UPDATE_WITHIN
from opsbinder.store.models import Incident, IncidentEvent

STARTED = "severity1_started"


@dataclass(frozen=True)
class Started:
    enqueued: int  # management and ladder messages now in the outbox
    stakeholder_notices: int


def check(severity: str) -> str:
    if severity not in SEVERITIES:
        raise BadInput(f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    return severity


def change(
    session: Session,
    clock: Clock,
    incident_id: int,
    *,
    severity: str,
    actor: str,
    reason: str = "",
    environ: Mapping[str, str] | None = None,
) -> Incident:
    """Raise or lower; audited with who, from, to and why. Refused on a resolved incident."""
    check(severity)
    incident = lifecycle.get(session, incident_id, lock=True)
    if incident.state == "resolved":
        raise IncidentStateError(
            f"incident #{incident.id} is resolved; reopen it to change its severity"
        )
    old = incident.severity
    if old == severity:
        raise IncidentStateError(f"incident #{incident.id} is already {severity}")
    incident.severity = severity
    direction = "raised" if SEVERITIES.index(severity) < SEVERITIES.index(old) else "lowered"
    lifecycle.record_event(
        session,
        clock,
        incident,
        "severity",
        actor,
        f"severity {direction} {old} -> {severity}" + (f": {reason}" if reason else ""),
        {"from": old, "to": severity, "reason": reason},
    )
    if severity == "sev1":
        start(session, clock, incident, actor=actor, environ=environ)
    elif old == "sev1":
        stop(session, clock, incident, actor=actor)
    return incident


def start(
    session: Session,
    clock: Clock,
    incident: Incident,
    *,
    actor: str,
    environ: Mapping[str, str] | None = None,
) -> Started:
    """The Severity-1 process, now: management informed, first update due, stakeholders told."""
    environ = environment.variables(environ)
    now = utc(clock.now())
    if incident.next_update_due is None or utc(incident.next_update_due) < now:
        incident.next_update_due = now + FIRST_UPDATE_WITHIN
    cb = client_binder(session, incident.client_id)
    schedules = {s.id: s for s in cb.oncall_schedules}
    due = escalation.decide(
        escalator.snapshot(incident), schedules, escalator.already_sent(session, incident.id), now
    )
    enqueued = escalator.apply_actions(session, clock, incident, due, cb, environ)
    count = _starts(session, incident.id) + 1
    notices = stakeholders.notify_severity1(session, clock, incident, count, environ)
    lifecycle.record_event(
        session,
        clock,
        incident,
        STARTED,
        actor,
        f"Severity-1 process started: management informed per the policy, first update due "
        f"{utc(incident.next_update_due):%H:%M} UTC, {notices} stakeholder notice(s) queued",
        {"start": count, "enqueued": enqueued, "stakeholder_notices": notices},
    )
    return Started(enqueued, notices)


def stop(session: Session, clock: Clock, incident: Incident, *, actor: str) -> None:
    incident.next_update_due = None
    lifecycle.record_event(
        session,
        clock,
        incident,
        "severity1_stopped",
        actor,
        "Severity-1 process stopped: no more management updates or update reminders",
    )


def _starts(session: Session, incident_id: int) -> int:
    return int(
        session.execute(
            select(func.count(IncidentEvent.id)).where(
                IncidentEvent.incident_id == incident_id, IncidentEvent.kind == STARTED
            )
        ).scalar_one()
    )
