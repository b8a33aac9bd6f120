"""Events from the MSP's monitoring (PagerDuty Events v2, Alertmanager) on the incident lifecycle.

Both doors turn what they receive into a `MonitorEvent` for one client, the client its
integration key belongs to; this module decides what the event becomes by the client's binder
(`events:` section) and applies it through `lifecycle`, so an incident opened by an event
escalates, pages and shows on the status page like any other.

Tenant isolation lives in the stored dedup key: it carries the client and the source, so the same
`dedup_key` sent with another client's key names another incident, never this one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from sqlalchemy.orm import Session

from opsbinder.clock import Clock
from opsbinder.config.models import EventRules
from opsbinder.errors import NotFound
from opsbinder.incidents import lifecycle
from opsbinder.store.models import Client, Incident

EventAction = Literal["trigger", "acknowledge", "resolve"]
_KEY_ROOM = 200  # Incident.dedup_key's length


@dataclass(frozen=True)
class MonitorEvent:
    source: Literal["pagerduty", "alertmanager"]
    action: EventAction
    dedup_key: str  # as the tool sent it (or as generated for it)
    summary: str = ""
    severity: str | None = None  # the tool's word: critical, warning, ...
    component: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)  # what routes match on
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    severity: str
    component: str | None
    policy: str | None
    drop: bool


def rules_of(session: Session, client_id: str) -> EventRules:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r} in the store")
    return EventRules.model_validate((client.definition or {}).get("events") or {})


def decide(rules: EventRules, event: MonitorEvent) -> Decision:
    """Severity, component and policy by the binder: the first matching route, then the maps."""
    attributes = {**event.attributes}
    if event.severity is not None:
        attributes.setdefault("severity", event.severity)
    if event.component is not None:
        attributes.setdefault("component", event.component)
    route = next(
        (
            r
            for r in rules.routes
            if all(fnmatchcase(attributes.get(k, ""), pattern) for k, pattern in r.match.items())
        ),
        None,
    )
    severity = rules.severities.get(event.severity or "", rules.default_severity)
    component = rules.components.get(event.component or "", event.component)
    if route is None:
        return Decision(severity, component, rules.escalation_policy, False)
    return Decision(
        route.severity or severity,
        route.component or component,
        route.escalation_policy or rules.escalation_policy,
        route.drop,
    )


def stored_key(client_id: str, source: str, dedup_key: str) -> str:
    """The incident's dedup key: client and source first; a long key by its digest."""
    key = f"{source}:{client_id}:{dedup_key}"
    if len(key) <= _KEY_ROOM:
        return key
    return f"{source}:{client_id}:sha256:{hashlib.sha256(dedup_key.encode()).hexdigest()}"


def apply(
    session: Session, clock: Clock, client_id: str, event: MonitorEvent, *, actor: str
) -> Incident | None:
    """Open (or count an occurrence of), acknowledge or resolve the event's incident.

    Acknowledging or resolving what is not open is no error: monitoring repeats itself, and the
    tool must not retry forever. Returns the incident touched, if any.
    """
    key = stored_key(client_id, event.source, event.dedup_key)
    if event.action == "trigger":
        decision = decide(rules_of(session, client_id), event)
        if decision.drop:
            return None
        details = {"dedup_key": event.dedup_key, "severity_word": event.severity, **event.details}
        return lifecycle.trigger(
            session,
            clock,
            client_id=client_id,
            procedure_key=None,
            dedup_key=key,
            title=event.summary or f"{event.source} event {event.dedup_key}",
            severity=decision.severity,
            details=details,
            actor=actor,
            source=event.source,
            component=decision.component,
            policy_id=decision.policy,
        )
    incident = lifecycle.open_by_dedup(session, key)
    if incident is None or incident.client_id != client_id:
        return None
    note = f"{event.action}d by {event.source}"
    if event.action == "acknowledge":
        if incident.state != "triggered":
            return incident
        return lifecycle.acknowledge(session, clock, incident.id, actor=actor, message=note)
    return lifecycle.resolve(session, clock, incident.id, actor=actor, message=note)
