"""Incidents: open, add occurrences, acknowledge, resolve, reopen, annotate, assign.

Every change appends an IncidentEvent (the timeline) and an audit entry in the caller's
transaction. State transitions are guarded first so a refused change writes nothing.
An incident keeps a frozen copy of its escalation policy: editing the binder later never
changes an escalation already under way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbinder import audit, redaction
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.errors import NotFound, OpsbinderError
from opsbinder.incidents import escalation
from opsbinder.store import stored_pages
from opsbinder.store.models import Client, Incident, IncidentEvent, IncidentWait, Procedure

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")
STATES = ("triggered", "acknowledged", "resolved")
SOURCES = ("flow", "manual", "pagerduty", "alertmanager", "heartbeat")


class IncidentStateError(OpsbinderError):
    """The incident is not in a state that allows this change."""

    exit_code = 4


def get(session: Session, incident_id: int, *, lock: bool = False) -> Incident:
    stmt = select(Incident).where(Incident.id == incident_id)
    if lock:
        stmt = stmt.with_for_update()
    incident = session.execute(stmt).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"no incident #{incident_id}")
    return incident


def open_by_dedup(session: Session, dedup_key: str, *, lock: bool = False) -> Incident | None:
    stmt = select(Incident).where(Incident.dedup_key == dedup_key, Incident.state != "resolved")
    if lock:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def events(session: Session, incident_id: int) -> list[IncidentEvent]:
    return list(
        session.execute(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id)
        ).scalars()
    )


def list_incidents(
    session: Session,
    *,
    client_id: str | None = None,
    severity: str | None = None,
    state: str | None = None,
    open_only: bool = False,
    limit: int = 200,
) -> list[Incident]:
    stmt = select(Incident).order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(limit)
    if client_id:
        stmt = stmt.where(Incident.client_id == client_id)
    if severity:
        if severity not in SEVERITIES:
            raise OpsbinderError(f"--severity {severity!r}: use one of {', '.join(SEVERITIES)}")
        stmt = stmt.where(Incident.severity == severity)
    if state:
        if state not in (*STATES, "open"):
            raise OpsbinderError(f"--state {state!r}: use one of {', '.join(STATES)}, open")
        if state == "open":
            open_only = True
        else:
            stmt = stmt.where(Incident.state == state)
    if open_only:
        stmt = stmt.where(Incident.state != "resolved")
    return list(session.execute(stmt).scalars())


def record_event(
    session: Session,
    clock: Clock,
    incident: Incident,
    kind: str,
    actor: str,
    message: str = "",
    data: dict[str, Any] | None = None,
    *,
    audit_details: dict[str, Any] | None = None,
) -> IncidentEvent:
    redact = redaction.for_session(session)  # a quoted error must not carry a secret along
    message, data = redact(message), redact.deep(data or {})
    event = IncidentEvent(
        incident_id=incident.id,
        at=utc(clock.now()),
        kind=kind,
        actor=actor,
        message=message,
        data=data,
    )
    session.add(event)
    audit.record(
        session,
        clock,
        actor=actor,
        action=f"incident.{kind}",
        object_type="incident",
        object_id=str(incident.id),
        client_id=incident.client_id,
        details={"message": message, **(audit_details or data or {})},
    )
    stored_pages.mark(session, clock, incident.client_id)  # the page is rendered on commit
    session.flush()
    return event


def trigger(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    procedure_key: str | None,
    dedup_key: str,
    title: str,
    severity: str,
    details: dict[str, Any],
    flow_run_id: str | None = None,
    actor: str = "opsbinder",
    source: str = "flow",
    component: str | None = None,
    policy_id: str | None = None,
    public_title: str | None = None,
) -> Incident:
    """Open an incident, or count one more occurrence of the open one with this dedup key.

    A Severity-1 incident starts the Severity-1 process as it opens, whatever its source (a
    flow's hook, the missed-run watch, a ping, a monitor, a person).

    The partial unique index uq_incidents_open_dedup is the arbiter: of two concurrent triggers
    only one INSERT wins; the loser's savepoint rolls back and it adds an occurrence instead.
    """
    if severity not in SEVERITIES:
        raise OpsbinderError(f"severity {severity!r}: use one of {', '.join(SEVERITIES)}")
    if source not in SOURCES:
        raise OpsbinderError(f"source {source!r}: use one of {', '.join(SOURCES)}")
    if session.get(Client, client_id) is None:
        raise NotFound(f"no client {client_id!r} in the store; load the binder first")
    existing = open_by_dedup(session, dedup_key, lock=True)
    if existing is not None:
        return _occurrence(session, clock, existing, severity, details, flow_run_id, actor)

    cb = client_binder(session, client_id, with_procedures=procedure_key is not None)
    procedure_id = None
    if procedure_key is not None:
        procedure_id = session.execute(
            select(Procedure.id).where(
                Procedure.client_id == client_id, Procedure.key == procedure_key
            )
        ).scalar_one_or_none()
    now = utc(clock.now())
    incident = Incident(
        client_id=client_id,
        procedure_id=procedure_id,
        dedup_key=dedup_key,
        title=title[:500],
        severity=severity,
        state="triggered",
        opened_at=now,
        occurrences=1,
        last_occurrence_at=now,
        flow_run_id=flow_run_id,
        policy_snapshot=escalation.frozen_policy(cb, procedure_key, policy_id),
        details={"procedure": procedure_key, **_jsonable(details)},
        escalation_level=0,
        source=source,
        component=component[:200] if component else None,
        public_title=public_title,
    )
    try:
        with session.begin_nested():
            session.add(incident)
            session.flush()
    except IntegrityError:
        existing = open_by_dedup(session, dedup_key, lock=True)
        if existing is None:
            raise
        return _occurrence(session, clock, existing, severity, details, flow_run_id, actor)
    record_event(
        session,
        clock,
        incident,
        "triggered",
        actor,
        title,
        {"flow_run_id": flow_run_id, "severity": severity, **_jsonable(details)},
    )
    if public_title:
        record_event(session, clock, incident, "published", actor,
                     f"client sees title {public_title!r}, state {incident.public_state}",
                     {"public_title": public_title, "public_state": incident.public_state})  # fmt: skip
    if severity == "sev1":
        from opsbinder.incidents import severity as severities  # it builds on this module

        severities.start(session, clock, incident, actor=actor)
    return incident


def _occurrence(
    session: Session,
    clock: Clock,
    incident: Incident,
    severity: str,
    details: dict[str, Any],
    flow_run_id: str | None,
    actor: str,
) -> Incident:
    incident.occurrences = (incident.occurrences or 0) + 1
    incident.last_occurrence_at = utc(clock.now())
    if flow_run_id:
        incident.flow_run_id = flow_run_id
    record_event(
        session,
        clock,
        incident,
        "occurrence",
        actor,
        f"occurred again ({incident.occurrences} times)",
        {"flow_run_id": flow_run_id, **_jsonable(details)},
    )
    if SEVERITIES.index(severity) < SEVERITIES.index(incident.severity):
        old, incident.severity = incident.severity, severity
        record_event(session, clock, incident, "severity", actor, f"severity {old} -> {severity}")
        if severity == "sev1":  # a monitor now says critical: as when a person raises it
            from opsbinder.incidents import severity as severities  # it builds on this module

            severities.start(session, clock, incident, actor=actor)
    return incident


def acknowledge(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str = ""
) -> Incident:
    incident = get(session, incident_id, lock=True)
    if incident.state == "acknowledged":
        raise IncidentStateError(
            f"incident #{incident.id} is already acknowledged by {incident.acknowledged_by} "
            f"at {_fmt(incident.acknowledged_at)}"
        )
    if incident.state == "resolved":
        raise IncidentStateError(
            f"incident #{incident.id} is resolved; reopen it first (opsbinder incidents reopen)"
        )
    incident.state = "acknowledged"
    incident.acknowledged_at, incident.acknowledged_by = utc(clock.now()), actor
    if not incident.assignee:
        incident.assignee = actor
    record_event(session, clock, incident, "acknowledged", actor, message)
    return incident


def resolve(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str = ""
) -> Incident:
    incident = get(session, incident_id, lock=True)
    if incident.state == "resolved":
        raise IncidentStateError(
            f"incident #{incident.id} is already resolved by {incident.resolved_by} "
            f"at {_fmt(incident.resolved_at)}"
        )
    return _close(session, clock, incident, actor, message, {})


def _close(
    session: Session,
    clock: Clock,
    incident: Incident,
    actor: str,
    message: str,
    data: dict[str, Any],
) -> Incident:
    """Resolved, for the team and the client alike; nothing is left to wait for."""
    incident.state, told = "resolved", incident.public_state
    incident.resolved_at, incident.resolved_by = utc(clock.now()), actor
    for wait in session.execute(
        select(IncidentWait).where(
            IncidentWait.incident_id == incident.id, IncidentWait.ended_at.is_(None)
        )
    ).scalars():
        wait.ended_at, wait.ended_by = incident.resolved_at, actor
    event = record_event(session, clock, incident, "resolved", actor, message, data)
    from opsbinder.incidents import public  # it builds on this module

    public.follow(session, clock, incident, "resolved", told, event)
    return incident


def reopen(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str = ""
) -> Incident:
    """Back to triggered: the escalation ladder starts again from level 1 (a new epoch)."""
    incident = get(session, incident_id, lock=True)
    if incident.state != "resolved":
        raise IncidentStateError(f"incident #{incident.id} is {incident.state}, not resolved")
    other = open_by_dedup(session, incident.dedup_key)
    if other is not None:
        raise IncidentStateError(
            f"incident #{incident.id} cannot be reopened: #{other.id} is already open for "
            f"{incident.dedup_key!r}"
        )
    epoch = int(incident.details.get("epoch", 0)) + 1
    incident.details = {
        **incident.details,
        "epoch": epoch,
        "ladder_start": utc(clock.now()).isoformat(),
        "escalation_step": 0,
    }
    incident.state, told = "triggered", incident.public_state
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.resolved_at = incident.resolved_by = None
    incident.escalation_level = 0
    incident.last_occurrence_at = utc(clock.now())
    event = record_event(session, clock, incident, "reopened", actor, message, {"epoch": epoch})
    from opsbinder.incidents import public  # it builds on this module

    public.follow(session, clock, incident, "investigating", told, event)
    return incident


def add_note(
    session: Session, clock: Clock, incident_id: int, *, actor: str, message: str
) -> IncidentEvent:
    if not message.strip():
        raise OpsbinderError("a note needs some text")
    incident = get(session, incident_id)
    return record_event(session, clock, incident, "note", actor, message)


def assign(
    session: Session, clock: Clock, incident_id: int, *, actor: str, assignee: str
) -> Incident:
    incident = get(session, incident_id, lock=True)
    if incident.state == "resolved":
        raise IncidentStateError(f"incident #{incident.id} is resolved; reopen it to assign it")
    if incident.assignee == assignee:
        raise IncidentStateError(f"incident #{incident.id} is already assigned to {assignee}")
    old, incident.assignee = incident.assignee, assignee
    record_event(
        session, clock, incident, "assigned", actor, f"assigned to {assignee}", {"from": old}
    )
    return incident


def auto_resolve(
    session: Session,
    clock: Clock,
    *,
    dedup_key: str,
    flow_run_id: str | None,
    actor: str = "opsbinder",
) -> Incident | None:
    """A success after a failure closes the open incident, saying which run succeeded."""
    incident = open_by_dedup(session, dedup_key, lock=True)
    if incident is None:
        return None
    return _close(
        session,
        clock,
        incident,
        actor,
        "resolved automatically: the procedure succeeded again",
        {"flow_run_id": flow_run_id, "auto": True},
    )


def epoch(incident: Incident) -> int:
    return int((incident.details or {}).get("epoch", 0))


def _fmt(value: datetime | None) -> str:
    return utc(value).strftime("%Y-%m-%d %H:%M UTC") if value else "?"


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    import json

    plain: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return plain
