"""A client's status page as bytes, and the fingerprint of the data it shows.

One render for every path: the writer of a change renders the page after its commit (`refresh`,
called by `opsbinder.store.stored_pages`), and the web server renders it itself only when no
writer did (the first reader, a change made behind opsbinder's back, the cache's expiry).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Template
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock
from opsbinder.evidence.monthly import published_packs
from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope
from opsbinder.store.models import Client, Incident, IncidentEvent, Procedure, Run, StatusUpdate
from opsbinder.web.status_data import status_page


def fingerprint(session: Session, client_id: str) -> tuple[Any, ...]:
    """One query that moves with every change made through opsbinder to what the page shows:
    newest incident, event, update, run and procedure change, the update count, the client."""
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


def page_key(session: Session, client_id: str) -> str:
    """The fingerprint and the evidence packs on offer (files, not rows), as stored."""
    key = [*fingerprint(session, client_id), *published_packs(client_id)]
    return json.dumps(key, default=str, separators=(",", ":"))


def render_page(session: Session, clock: Clock, template: Template, client_id: str) -> bytes | None:
    """The page as bytes, or None when the client is not (or no longer) there."""
    data = status_page(session, clock, client_id)
    if data is None:
        return None
    html: str = template.render(page=data)
    return html.encode()


@lru_cache(maxsize=1)
def _template() -> Template:
    from opsbinder.web.app import make_templates  # the app's filters and globals

    return make_templates().get_template("status.html")


def refresh(engine: Engine, clock: Clock, client_id: str) -> None:
    """Render the client's page from one snapshot and keep it with that snapshot's key.

    The read takes no write lock on SQLite, so readers of the page and other writers go on
    while it renders; only the short write that keeps the bytes takes it."""
    with read_scope(engine) as reading:
        key = page_key(reading, client_id)
        page = render_page(reading, clock, _template(), client_id)
    with session_scope(engine) as writing:
        if page is None:
            stored_pages.forget(writing, client_id)
        else:
            stored_pages.save(writing, client_id, key, page)
