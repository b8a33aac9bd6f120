"""Change events: what a client's tools say changed on its systems (a deploy, a config push).

Whoever looks at an incident first asks what changed just before it; PagerDuty's change events
answer that, and tools that send them (CI pipelines, Ansible's `pagerduty_change`) need only a new
URL. A change is recorded on its client's timeline and never opens, touches or pages an incident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.store.models import ChangeEvent


@dataclass(frozen=True)
class Change:
    summary: str
    source: str = ""
    timestamp: datetime | None = None  # when the tool says it changed
    custom_details: Any = None
    links: list[dict[str, str]] = field(default_factory=list)


def record(
    session: Session, clock: Clock, client_id: str, change: Change, *, integration: str
) -> ChangeEvent:
    """The change on the client's timeline, at the tool's time if it gave one."""
    now = clock.now()
    row = ChangeEvent(
        client_id=client_id,
        at=change.timestamp or now,
        received_at=now,
        summary=change.summary,
        source=change.source,
        integration=integration,
        details={"custom_details": change.custom_details, "links": change.links},
    )
    session.add(row)
    session.flush()
    return row


def around(
    session: Session, client_id: str, since: datetime, until: datetime, limit: int = 20
) -> list[ChangeEvent]:
    """The client's changes in [since, until], newest first: what to read beside an incident."""
    query = (
        select(ChangeEvent)
        .where(
            ChangeEvent.client_id == client_id,
            ChangeEvent.at >= utc(since),
            ChangeEvent.at <= utc(until),
        )
        .order_by(ChangeEvent.at.desc(), ChangeEvent.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())
