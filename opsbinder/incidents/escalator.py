"""The escalator applies the escalation engine: its actions become outbox rows and timeline entries.

Idempotent by construction: the engine skips keys already sent, the outbox refuses a key twice,
and each incident is handled under a row lock so two sweepers cannot both write its timeline.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import environment, outbox
from opsbinder.binder_store import client_binder, escalation_terms, no_client
from opsbinder.clock import Clock, utc
from opsbinder.config.models import ClientBinder, Contact, EscalationPolicy
from opsbinder.incidents import delivery, lifecycle, waits
from opsbinder.incidents.escalation import Action, IncidentSnapshot, decide
from opsbinder.incidents.sla import ServiceCalendar, SlaTerms
from opsbinder.incidents.sla_terms import terms_of
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent

SKIPPED = "notify_skipped"
BREACHED = "sla_breached"


class Policies:
    """The frozen policies of one pass, each distinct one validated once: the incidents of a
    client mostly keep the same policy, and validating it again for each was most of the cost
    of deciding an incident. Keyed by the frozen copy's content, so an incident whose copy
    differs (its policy edited before it opened) gets its own; kept for one pass only."""

    def __init__(self) -> None:
        self._seen: dict[str, EscalationPolicy] = {}

    def of(self, frozen: dict[str, Any]) -> EscalationPolicy | dict[str, Any]:
        if not frozen:
            return frozen  # no policy: the engine decides nothing, as for an empty dump
        key = json.dumps(frozen, sort_keys=True)
        policy = self._seen.get(key)
        if policy is None:
            policy = self._seen[key] = EscalationPolicy.model_validate(frozen)
        return policy


def snapshot(
    incident: Incident, sla: SlaTerms | None = None, policies: Policies | None = None
) -> IncidentSnapshot:
    details = incident.details or {}
    start = details.get("ladder_start")
    frozen = incident.policy_snapshot or {}
    return IncidentSnapshot(
        id=incident.id,
        severity=incident.severity,
        state=incident.state,
        ladder_start=utc(datetime.fromisoformat(start)) if start else utc(incident.opened_at),
        epoch=lifecycle.epoch(incident),
        policy=frozen if policies is None else policies.of(frozen),
        step=int(details.get("escalation_step", 0)),
        sla=sla,
    )


def already_sent(session: Session, incident_id: int) -> set[str]:
    return already_sent_by_incident(session, [incident_id])[incident_id]


def already_sent_by_incident(
    session: Session, incident_ids: Collection[int]
) -> dict[int, set[str]]:
    """The action keys each listed incident has had (sent, skipped or breached), in two queries."""
    found: dict[int, set[str]] = {i: set() for i in incident_ids}
    for incident_id, keys in outbox.sent_keys_by_incident(session, incident_ids).items():
        found[incident_id] |= {k.split("#", 1)[0] for k in keys}
    # only the key of each event's data: decoding every data document was most of the time
    # of a pass over incidents with many skipped pages
    skipped = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.data["key"].as_string()).where(
            IncidentEvent.incident_id.in_(incident_ids),
            IncidentEvent.kind.in_((SKIPPED, BREACHED)),
        )
    )
    for incident_id, key in skipped:
        if key:
            found[incident_id].add(str(key))
    return found


def _body(incident: Incident, action: Action, contact: Contact | None) -> dict[str, Any]:
    details = incident.details or {}
    link = f"{get_settings().base_url.rstrip('/')}/console/incidents/{incident.id}"
    who = contact.name if contact else action.target.get("webhook", "")
    title = f"[{incident.severity}] {incident.client_id}: {incident.title}"
    return {
        "event": "incident.notify",
        "title": title,
        "text": f"{title}\n{action.reason}. Incident #{incident.id}, {incident.state}. {link}",
        "incident": {
            "id": incident.id,
            "client": incident.client_id,
            "title": incident.title,
            "severity": incident.severity,
            "state": incident.state,
            "opened_at": utc(incident.opened_at).isoformat(),
            "occurrences": incident.occurrences,
            "dedup_key": incident.dedup_key,
            "error": str(details.get("error") or "")[:1000],
            "flow_run_link": details.get("link"),
            "link": link,
        },
        "level": action.level,
        "level_name": action.level_name,
        "step": action.step,
        "reason": action.reason,
        "recipient": {"id": contact.id, "name": contact.name, "phone": contact.phone}
        if contact
        else {"webhook": who},
        "key": action.key,
    }


def apply_actions(
    session: Session,
    clock: Clock,
    incident: Incident,
    actions: list[Action],
    cb: ClientBinder,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Record every action; returns the number of outbox messages enqueued."""
    environ = environment.variables(environ)
    enqueued = 0
    for action in actions:
        if action.kind == "breach":
            lifecycle.record_event(
                session,
                clock,
                incident,
                BREACHED,
                "sla",
                action.reason,
                {
                    "key": action.key,
                    "clock": action.key.split("/")[-2],  # .../sla/<clock>/breach
                    "due_at": action.due_at.isoformat(),
                },
            )
            continue
        if action.kind == "escalate":
            details = incident.details or {}
            if action.step <= int(details.get("escalation_step", 0)):
                continue
            incident.details = {**details, "escalation_step": action.step}
            incident.escalation_level = action.level
            lifecycle.record_event(
                session,
                clock,
                incident,
                "escalated",
                "escalation",
                f"escalated to {action.level_name}: {action.reason}",
                {"step": action.step, "level": action.level, "key": action.key},
            )
            continue
        messages, contact = delivery.routes_for(cb, action, environ)
        if action.step and action.step > int((incident.details or {}).get("escalation_step", 0)):
            incident.details = {**(incident.details or {}), "escalation_step": action.step}
            incident.escalation_level = action.level
        if not messages:
            why = (
                f"nobody on call in {action.target.get('oncall')}"
                if action.target.get("oncall") and action.recipient is None
                else f"no channel to reach {action.recipient or action.target}"
            )
            lifecycle.record_event(
                session,
                clock,
                incident,
                SKIPPED,
                "escalation",
                f"{action.reason}: {why}",
                {"key": action.key},
            )
            continue
        body = _body(incident, action, contact)
        sent_via = delivery.enqueue(session, clock, incident, action, messages, body)
        enqueued += len(sent_via)
        if sent_via:
            name = contact.name if contact else action.target.get("webhook")
            lifecycle.record_event(
                session,
                clock,
                incident,
                "notified",
                "escalation",
                f"{action.reason}: notifying {name} via {', '.join(sent_via)}",
                {"key": action.key, "recipient": action.recipient, "level": action.level},
            )
    return enqueued


@dataclass
class SweepReport:
    incidents: int = 0
    enqueued: int = 0
    escalations: int = 0


PAGE = 500  # incidents read per query: bounds both the statement count and a page's memory


def sweep(engine: Engine, clock: Clock, *, client_id: str | None = None) -> SweepReport:
    """One pass over every open incident: a page at a time is read and decided at once (a
    steady pass issues a few statements per page, not per incident); each incident with
    something due is decided again and recorded under its row lock, one per transaction."""
    report = SweepReport()
    with session_scope(engine) as session:
        stmt = select(Incident.id).where(Incident.state != "resolved").order_by(Incident.id)
        if client_id:
            stmt = stmt.where(Incident.client_id == client_id)
        ids = list(session.execute(stmt).scalars())
    binders: dict[str, ClientBinder] = {}
    policies = Policies()
    for at in range(0, len(ids), PAGE):
        with session_scope(engine) as session:
            due = _with_actions_due(session, clock, ids[at : at + PAGE], report, policies)
        for incident_id in due:
            escalate(engine, clock, incident_id, report, binders)
    return report


def _with_actions_due(
    session: Session, clock: Clock, page: list[int], report: SweepReport, policies: Policies
) -> list[int]:
    """The page's open incidents that have an action due; the others are counted as seen.
    A read without locks: only what it finds due is decided again under the lock."""
    incidents = (
        session.execute(select(Incident).where(Incident.id.in_(page), Incident.state != "resolved"))
        .scalars()
        .all()
    )
    clients = escalation_terms(session, {i.client_id for i in incidents})
    sent = already_sent_by_incident(session, page)
    pauses = waits.pauses_by_incident(session, page)
    due = []
    calendars: dict[str, dict[tuple[str, str], ServiceCalendar]] = {}  # per client
    for incident in sorted(incidents, key=lambda i: i.id):
        cb = clients.get(incident.client_id)
        if cb is None:  # a client gone from the store: NotFound, as the locked step would raise
            raise no_client(incident.client_id)
        schedules = {s.id: s for s in cb.oncall_schedules}
        terms = terms_of(
            session,
            incident,
            cb.contract,
            cb.client.timezone,
            pauses.get(incident.id, []),
            calendars.setdefault(incident.client_id, {}),
        )
        if decide(snapshot(incident, terms, policies), schedules, sent[incident.id], clock.now()):
            due.append(incident.id)
        else:
            report.incidents += 1
    return due


def escalate(
    engine: Engine,
    clock: Clock,
    incident_id: int,
    report: SweepReport | None = None,
    binders: dict[str, ClientBinder] | None = None,
) -> SweepReport:
    """Decide and record for one incident, under its row lock: the sweep's step for each
    incident, and the failure hook's for the incident it has just opened (so its first page
    does not wait for the next sweep). `binders` caches each client's binder across calls."""
    report = report if report is not None else SweepReport()
    binders = binders if binders is not None else {}
    with session_scope(engine) as session:
        incident = lifecycle.get(session, incident_id, lock=True)
        if incident.state == "resolved":
            return report
        if incident.client_id not in binders:
            binders[incident.client_id] = client_binder(session, incident.client_id)
        cb = binders[incident.client_id]
        schedules = {s.id: s for s in cb.oncall_schedules}
        sent = already_sent(session, incident.id)
        terms = terms_of(session, incident, cb.contract, cb.client.timezone)
        actions = decide(snapshot(incident, terms), schedules, sent, clock.now())
        report.incidents += 1
        report.escalations += sum(a.kind == "escalate" for a in actions)
        report.enqueued += apply_actions(session, clock, incident, actions, cb)
    return report
