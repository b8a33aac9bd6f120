"""Declaring an incident by hand: a client called, a person saw it, the Severity-1 call starts.

A declared incident enters the same lifecycle as one a flow opened (`lifecycle.trigger`): the
client's first escalation policy frozen into it, the ladder, the status page. Its dedup key is
the client's own (stored as `<client>/<key>`, like a procedure's), so a key can never reach
another client's incident; declaring a key that is open already is refused, naming the open
incident, rather than silently counted on it. A Severity-1 declaration starts the Severity-1
process at once (`lifecycle.trigger` starts it for a Severity-1 incident of any source).
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock
from opsbinder.errors import BadInput
from opsbinder.incidents import lifecycle, public, severity
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.incidents.status_updates import clean_text
from opsbinder.store.models import Incident

KEY_LIMIT = 150


def _text(name: str, value: str, limit: int, *, required: bool) -> str:
    text = clean_text(name, value or "").strip()
    if required and not text:
        raise BadInput(f"{name}: required, it is empty")
    if len(text) > limit:
        raise BadInput(f"{name}: {len(text)} characters, at most {limit}")
    return text


def client_key(client_id: str, dedup_key: str | None) -> str:
    if dedup_key is None or not dedup_key.strip():
        return f"{client_id}/declared/{uuid.uuid4().hex[:16]}"
    key = dedup_key.strip()
    if len(key) > KEY_LIMIT or any(not c.isprintable() for c in key):
        raise BadInput(f"dedup_key: {key[:40]!r}... must be 1-{KEY_LIMIT} printable characters")
    return f"{client_id}/{key}"


def check_component(session: Session, client_id: str, component: str | None) -> str | None:
    """A component of the client's binder, by id; None when none is named."""
    if component is None or not component.strip():
        return None
    known = [c.id for c in client_binder(session, client_id).components]
    if component.strip() not in known:
        listed = ", ".join(known) if known else "none: the binder has no components: section"
        raise BadInput(
            f"component: {component[:64]!r} is not a component of {client_id} ({listed})"
        )
    return component.strip()


def declare(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    severity_: str,
    title: str,
    public_title: str = "",
    impact: str = "",
    dedup_key: str | None = None,
    component: str | None = None,
    actor: str,
) -> Incident:
    severity.check(severity_)
    component = check_component(session, client_id, component)
    title = _text("title", title, 500, required=True)
    impact = _text("impact", impact, 5000, required=False)
    shown = public.check_title(public_title) if public_title.strip() else None
    key = client_key(client_id, dedup_key)
    existing = lifecycle.open_by_dedup(session, key)
    if existing is not None:
        raise IncidentStateError(
            f"dedup_key: incident #{existing.id} is already open for {key.split('/', 1)[1]!r}; "
            "act on it instead"
        )
    incident = lifecycle.trigger(
        session,
        clock,
        client_id=client_id,
        procedure_key=None,
        dedup_key=key,
        title=title,
        severity=severity_,
        details={"declared_by": actor, "impact": impact},
        actor=actor,
        source="manual",
        component=component,
        public_title=shown,
    )
    return incident
