"""How a notice about an incident reaches a person: the routes to them, then the outbox.

Escalation steps, Severity-1 update reminders and stakeholder notices all go this one way, so a
contact's channels are found by one rule and every message gets the same idempotency key shape
(`{action key}#{channel}:{target}`): a contact with a webhook, a chat and an e-mail gets each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from opsbinder import outbox
from opsbinder.clock import Clock
from opsbinder.config.models import ClientBinder, Contact
from opsbinder.incidents.escalation import Action
from opsbinder.notify.apprise_channel import SMTP_ENV
from opsbinder.store.models import Incident


@dataclass(frozen=True)
class Message:
    channel: str  # webhook or apprise
    target: str
    route: dict[str, Any]


def routes_for(
    cb: ClientBinder, action: Action, environ: Mapping[str, str]
) -> tuple[list[Message], Contact | None]:
    """Where an action's notification goes: a webhook target, or the recipient's channels."""
    webhooks = {w.id: w for w in cb.webhooks}
    if action.target.get("webhook"):
        hook = webhooks.get(action.target["webhook"])
        if hook is None:
            return [], None
        return [Message("webhook", hook.id, hook.model_dump(exclude_none=True))], None
    if action.recipient is None:
        return [], None
    contact = next((c for c in cb.contacts if c.id == action.recipient), None)
    if contact is None:
        return [], None
    messages = []
    if contact.webhook and contact.webhook in webhooks:
        hook = webhooks[contact.webhook]
        messages.append(Message("webhook", hook.id, hook.model_dump(exclude_none=True)))
    if contact.chat:
        messages.append(Message("apprise", f"chat:{contact.id}", {"url": contact.chat}))
    if contact.email and environ.get(SMTP_ENV):
        messages.append(Message("apprise", f"mail:{contact.id}", {"email": contact.email}))
    return messages, contact


def enqueue(
    session: Session,
    clock: Clock,
    incident: Incident,
    action: Action,
    messages: list[Message],
    body: dict[str, Any],
) -> list[str]:
    """One outbox row per channel, each once; returns "channel target" for the rows added."""
    added = []
    for message in messages:
        row = outbox.enqueue(
            session,
            clock,
            channel=message.channel,
            target=message.target,
            route=message.route,
            body=body,
            idempotency_key=f"{action.key}#{message.channel}:{message.target}",
            client_id=incident.client_id,
            incident_id=incident.id,
            recipient=action.recipient,
        )
        if row is not None:
            added.append(f"{message.channel} {message.target}")
    return added
