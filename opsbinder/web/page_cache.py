"""A short-lived cache of rendered status pages, keyed by a fingerprint of what they show.

A page with a thousand updates costs a thousand hash checks and a large render; a client's
people reloading it during an outage should not each pay for that. The fingerprint (newest
incident, event, update, run and procedure change of the client, and the number of updates) is
one cheap query, so any change made through opsbinder shows at once. A change made behind
opsbinder's back (an edited row) does not move the fingerprint, so entries also expire after
`ttl` seconds: the chain is re-verified at least that often.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder.store.models import Client, Incident, IncidentEvent, Procedure, Run, StatusUpdate


def fingerprint(session: Session, client_id: str) -> tuple[Any, ...]:
    ids = select(Incident.id).where(Incident.client_id == client_id).scalar_subquery()
    row = session.execute(
        select(
            select(func.max(Incident.id)).where(Incident.client_id == client_id).scalar_subquery(),
            select(func.max(IncidentEvent.id))
            .where(IncidentEvent.incident_id.in_(ids))
            .scalar_subquery(),
            select(func.max(StatusUpdate.id))
            .where(StatusUpdate.incident_id.in_(ids))
            .scalar_subquery(),
            select(func.count(StatusUpdate.id))
            .where(StatusUpdate.incident_id.in_(ids))
            .scalar_subquery(),
            select(func.max(Run.id)).where(Run.client_id == client_id).scalar_subquery(),
            select(func.max(Procedure.updated_at))
            .where(Procedure.client_id == client_id)
            .scalar_subquery(),
            select(Client.updated_at).where(Client.id == client_id).scalar_subquery(),
        )
    ).one()
    return tuple(row)


@dataclass
class _Entry:
    key: tuple[Any, ...]
    at: float
    body: bytes


class PageCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, name: str, key: tuple[Any, ...]) -> bytes | None:
        if self.ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or entry.key != key or time.monotonic() - entry.at > self.ttl:
            return None
        return entry.body

    def put(self, name: str, key: tuple[Any, ...], body: bytes) -> None:
        if self.ttl > 0:
            with self._lock:
                self._entries[name] = _Entry(key, time.monotonic(), body)
