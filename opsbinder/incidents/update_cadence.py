"""Enforcing the next Severity-1 update: a reminder before it is due, escalation once overdue.

`decide` is pure: given an open Severity-1 incident's due time, its frozen policy, the on-call
schedules, the notification keys already sent and the time, it returns what to send. The
reminder goes to the incident's commander (the commander, else the assignee, else whoever
acknowledged, when that is a contact of the binder; otherwise to the policy's first level) a
little before the update is due. Once the update is overdue, the policy's ladder runs from the
due time exactly as for an unacknowledged incident: level 1 at once, the next level after the
previous level's acknowledgement timeout, and so on. A posted update moves the due time, so the
keys (which name the due time) start afresh and nothing is sent twice for one due time.

`apply` turns the decision into outbox rows and timeline entries through the same routes the
escalation sweeper uses (`opsbinder.incidents.delivery`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import environment
from opsbinder.binder_store import client_binder, policy_binders
from opsbinder.clock import Clock, utc
from opsbinder.config.models import ClientBinder, EscalationPolicy, OnCallSchedule
from opsbinder.errors import NotFound, Refused
from opsbinder.incidents import escalator, lifecycle
from opsbinder.incidents.escalation import Action, ladder, level_notices, recipient_of
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent, StatusUpdate

REMIND_BEFORE = timedelta(minutes=15)
# A Severity-1 incident with no update yet owes its first one this long after it opened.
FIRST_UPDATE_WITHIN = timedelta(minutes=30)


@dataclass(frozen=True)
class CadenceSnapshot:
    id: int
    severity: str
    state: str
    due: datetime  # when the next update is owed
    policy: dict[str, Any]
    commander: str | None  # a contact id of the binder, when the incident has one


def due_time(incident: Incident, has_updates: bool) -> datetime:
    if incident.next_update_due is not None:
        return utc(incident.next_update_due)
    if has_updates:  # an update without a due time cannot happen; be safe, not silent
        return utc(incident.opened_at)
    return utc(incident.opened_at) + FIRST_UPDATE_WITHIN


def _stamp(due: datetime) -> str:
    return utc(due).strftime("%Y%m%dT%H%MZ")


def decide(
    incident: CadenceSnapshot,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    now: datetime,
) -> list[Action]:
    """Everything due at `now` for this incident's next update and not in `sent`."""
    if incident.severity != "sev1" or incident.state == "resolved" or not incident.policy:
        return []
    policy = EscalationPolicy.model_validate(incident.policy)
    base = f"inc/{incident.id}/update-due/{_stamp(incident.due)}"
    actions: list[Action] = []
    remind_at = incident.due - REMIND_BEFORE
    if remind_at <= now < incident.due:
        targets: list[dict[str, str]]
        recipients: list[str | None]
        if incident.commander:
            targets = [{"contact": incident.commander}]
            recipients = [incident.commander]
        else:
            first = policy.levels[0].targets
            targets = [t.model_dump(exclude_none=True) for t in first]
            recipients = [recipient_of(t, schedules, now) for t in first]
        for target, recipient in zip(targets, recipients, strict=True):
            kind, value = next(iter(target.items()))
            key = f"{base}/remind/{kind}:{value}"
            if key not in sent:
                actions.append(
                    Action(
                        kind="notify",
                        key=key,
                        due_at=remind_at,
                        step=0,
                        level=0,
                        level_name="incident commander",
                        round=0,
                        target=target,
                        recipient=recipient,
                        reason=f"Severity-1 update due at {incident.due:%H:%M} UTC",
                    )
                )
    if now >= incident.due:
        for _step, rnd, index, at in ladder(policy, incident.due, "sev1"):
            if at > now:
                break
            level = policy.levels[index]
            reason = f"Severity-1 update overdue since {incident.due:%H:%M} UTC: {level.name}"
            # step 0: never moves the incident's own escalation ladder
            actions += level_notices(
                f"{base}/r{rnd}/l{index + 1}",
                index,
                level,
                schedules,
                sent,
                at,
                step=0,
                rnd=rnd,
                reason=reason,
            )
    return sorted(actions, key=lambda a: (a.due_at, a.level, a.key))


def set_commander(
    session: Session, clock: Clock, incident_id: int, *, contact: str, actor: str
) -> Incident:
    """Name the incident's commander: the person reminded before each update is due."""
    incident = lifecycle.get(session, incident_id, lock=True)
    cb = client_binder(session, incident.client_id)
    person = next((c for c in cb.contacts if c.id == contact), None)
    if person is None:
        raise NotFound(f"contact: {contact!r} is not a contact of client {incident.client_id!r}")
    if incident.commander == contact:
        raise Refused(f"{person.name} is already the commander of incident #{incident_id}")
    old, incident.commander = incident.commander, contact
    lifecycle.record_event(
        session,
        clock,
        incident,
        "commander",
        actor,
        f"{person.name} is the incident commander",
        {"contact": contact, "from": old},
    )
    return incident


def commander_contact(incident: Incident, cb: ClientBinder) -> str | None:
    ids = {c.id for c in cb.contacts}
    for who in (incident.commander, incident.assignee, incident.acknowledged_by):
        if who and who in ids:
            return who
    return None


def snapshot(session: Session, incident: Incident, cb: ClientBinder) -> CadenceSnapshot:
    has_updates = (
        session.execute(
            select(StatusUpdate.id).where(StatusUpdate.incident_id == incident.id).limit(1)
        ).first()
        is not None
    )
    return snapshot_of(incident, cb, has_updates)


def snapshot_of(incident: Incident, cb: ClientBinder, has_updates: bool) -> CadenceSnapshot:
    return CadenceSnapshot(
        id=incident.id,
        severity=incident.severity,
        state=incident.state,
        due=due_time(incident, has_updates),
        policy=incident.policy_snapshot or {},
        commander=commander_contact(incident, cb),
    )


def _overdue_key(snap: CadenceSnapshot) -> str:
    return f"inc/{snap.id}/update-due/{_stamp(snap.due)}/overdue"


def _overdue_keys(session: Session, incident_ids: Collection[int]) -> dict[int, set[str]]:
    """The overdue marks each listed incident's timeline holds, in one statement."""
    found: dict[int, set[str]] = {i: set() for i in incident_ids}
    rows = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.data).where(
            IncidentEvent.incident_id.in_(incident_ids), IncidentEvent.kind == "update_overdue"
        )
    )
    for incident_id, d in rows:
        if isinstance(d, dict) and d.get("key"):
            found[incident_id].add(str(d["key"]))
    return found


@dataclass
class CadenceReport:
    incidents: int = 0
    reminders: int = 0
    overdue: int = 0
    enqueued: int = 0


def apply(
    session: Session,
    clock: Clock,
    incident: Incident,
    cb: ClientBinder,
    environ: Mapping[str, str] | None = None,
) -> tuple[list[Action], int]:
    snap = snapshot(session, incident, cb)
    schedules = {s.id: s for s in cb.oncall_schedules}
    actions = decide(snap, schedules, escalator.already_sent(session, incident.id), clock.now())
    overdue_key = _overdue_key(snap)
    if (
        snap.due <= utc(clock.now())
        and overdue_key not in _overdue_keys(session, [incident.id])[incident.id]
    ):
        lifecycle.record_event(
            session,
            clock,
            incident,
            "update_overdue",
            "update-cadence",
            f"Severity-1 update was due at {snap.due:%Y-%m-%d %H:%M} UTC and is overdue",
            {"key": overdue_key, "due": snap.due.isoformat()},
        )
    enqueued = escalator.apply_actions(
        session, clock, incident, actions, cb, environment.variables(environ)
    )
    return actions, enqueued


PAGE = 500  # incidents read per query: bounds both the statement count and a page's memory


def sweep(engine: Engine, clock: Clock) -> CadenceReport:
    """One pass over the open Severity-1 incidents: a page at a time is read and decided at
    once (a steady pass issues a few statements per page, not per incident); each incident with
    a reminder, an escalation or its overdue mark due is decided again and recorded under its
    row lock, one per transaction."""
    report = CadenceReport()
    with session_scope(engine) as session:
        ids = list(
            session.execute(
                select(Incident.id)
                .where(Incident.severity == "sev1", Incident.state != "resolved")
                .order_by(Incident.id)
            ).scalars()
        )
    for at in range(0, len(ids), PAGE):
        with session_scope(engine) as session:
            due = _with_something_due(session, clock, ids[at : at + PAGE], report)
        for incident_id in due:
            with session_scope(engine) as session:
                incident = lifecycle.get(session, incident_id, lock=True)
                if incident.state == "resolved":
                    continue
                cb = client_binder(session, incident.client_id)
                actions, enqueued = apply(session, clock, incident, cb)
                report.incidents += 1
                report.reminders += sum("/remind/" in a.key for a in actions)
                report.overdue += sum("/remind/" not in a.key for a in actions)
                report.enqueued += enqueued
    return report


def _with_something_due(
    session: Session, clock: Clock, page: list[int], report: CadenceReport
) -> list[int]:
    """The page's open incidents with something to send or record, read without locks in six
    statements; the others are counted as seen."""
    incidents = (
        session.execute(select(Incident).where(Incident.id.in_(page), Incident.state != "resolved"))
        .scalars()
        .all()
    )
    binders = policy_binders(session, {i.client_id for i in incidents})
    sent = escalator.already_sent_by_incident(session, page)
    updated = set(
        session.execute(
            select(StatusUpdate.incident_id).where(StatusUpdate.incident_id.in_(page)).distinct()
        ).scalars()
    )
    overdue = _overdue_keys(session, page)
    now = utc(clock.now())
    due = []
    for incident in sorted(incidents, key=lambda i: i.id):
        # a client gone from the store: client_binder raises NotFound, as the locked step would
        cb = binders.get(incident.client_id) or client_binder(session, incident.client_id)
        snap = snapshot_of(incident, cb, incident.id in updated)
        schedules = {s.id: s for s in cb.oncall_schedules}
        marked = snap.due > now or _overdue_key(snap) in overdue[incident.id]
        if decide(snap, schedules, sent[incident.id], now) or not marked:
            due.append(incident.id)
        else:
            report.incidents += 1
    return due
