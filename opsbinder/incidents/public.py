"""The client-facing view of an incident: a public title and state, apart from the internal ones.

Internal titles are written for responders ("Check last night's TMS backup: Failed") and the
internal state for the escalation ladder (triggered, acknowledged); a client reads neither.
Until staff give an incident a public title it is "unpublished": the status page says only that
something is under investigation (for its component, when it has one). The public state is
staff's word to the client (investigating, identified, monitoring, resolved); resolving the
incident resolves it for the client too, and reopening it starts over at investigating.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from opsbinder.clock import Clock
from opsbinder.errors import BadInput
from opsbinder.incidents import lifecycle, stakeholders
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.incidents.status_updates import clean_text
from opsbinder.store.models import Incident, IncidentEvent

PUBLIC_STATES = ("investigating", "identified", "monitoring", "resolved")
UNPUBLISHED = "Under investigation"
TITLE_LIMIT = 200


def published(incident: Incident) -> bool:
    return bool(incident.public_title)


def headline(incident: Incident, component: str | None = None) -> str:
    """What the client reads as the incident's title: never the internal one."""
    if incident.public_title:
        return incident.public_title
    return f"{component}: under investigation" if component else UNPUBLISHED


def check_title(value: str) -> str:
    text = " ".join(clean_text("public_title", value).split())
    if not text:
        raise BadInput("public_title: required, it is empty")
    if len(text) > TITLE_LIMIT:
        raise BadInput(f"public_title: {len(text)} characters, at most {TITLE_LIMIT}")
    return text


def check_state(value: str) -> str:
    if value not in PUBLIC_STATES:
        raise BadInput(f"public_state: {value!r} is not one of {', '.join(PUBLIC_STATES)}")
    return value


def set_public(
    session: Session,
    clock: Clock,
    incident_id: int,
    *,
    actor: str,
    title: str | None = None,
    state: str | None = None,
) -> Incident:
    """Publish or change what the client sees; a change that changes nothing is refused."""
    if title is None and state is None:
        raise BadInput("give a public title, a public state or both")
    new_title = check_title(title) if title is not None else None
    new_state = check_state(state) if state is not None else None
    incident = lifecycle.get(session, incident_id, lock=True)
    old_title, old_state = incident.public_title, incident.public_state
    if (new_title is None or new_title == old_title) and (
        new_state is None or new_state == old_state
    ):
        raise IncidentStateError(f"incident #{incident.id} already shows that to the client")
    if new_title is not None:
        incident.public_title = new_title
    if new_state is not None:
        incident.public_state = new_state
    said = [f"title {incident.public_title!r}"] if new_title is not None else []
    said += [f"state {incident.public_state}"] if new_state is not None else []
    event = lifecycle.record_event(
        session,
        clock,
        incident,
        "public" if old_title or new_title is None else "published",
        actor,
        "client sees " + ", ".join(said),
        {
            "public_title": incident.public_title,
            "public_state": incident.public_state,
            "from_title": old_title,
            "from_state": old_state,
        },
    )
    if incident.public_state != old_state:
        stakeholders.notify_public_state(session, clock, incident, event)
    return incident


def follow(
    session: Session, clock: Clock, incident: Incident, state: str, told: str, event: IncidentEvent
) -> None:
    """The client's word follows the incident as it resolves or reopens (`told`: what the client
    read before); the stakeholders hear of a change once, keyed by the timeline's `event`."""
    incident.public_state = state
    if state != told:
        stakeholders.notify_public_state(session, clock, incident, event)
