"""A client's status page as bytes, and the fingerprint of the data it shows.

One render for every path: the writer of a change renders the page after its commit (`refresh`,
called by `opsbinder.store.stored_pages`); the minutely sweep renders a kept page again when time
alone changed it or its data moved without a writer's mark (`render_due`); the web server renders
a page only for its first reader, when nothing is kept yet.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
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

log = logging.getLogger(__name__)
SWEEP_SLACK = 5.0  # seconds: a page rendered by the previous minute's sweep is due in this one


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
    read_at = time.time()  # before the snapshot: a render that read later wins (stored_pages)
    with read_scope(engine) as reading:
        key = page_key(reading, client_id)
        page = render_page(reading, clock, _template(), client_id)
    with session_scope(engine) as writing:
        if page is None:
            stored_pages.forget(writing, client_id)
        else:
            stored_pages.save(writing, client_id, key, page, read_at)


@dataclass
class SweptPages:
    rendered: list[str] = field(default_factory=list)
    current: int = 0  # kept pages young enough and with their data unchanged
    failed: list[str] = field(default_factory=list)


def render_due(engine: Engine, clock: Clock, max_age: float) -> SweptPages:
    """The minutely sweep's step: render again every kept page older than `max_age` seconds
    (the "as of" line, windows starting and ending, resolved incidents ageing out, the hash
    chains checked afresh against edits behind opsbinder's back) or whose data's fingerprint
    moved without a writer rendering it (a writer that died, a change made by hand). So a
    request never has to: the server sends the kept page as it is."""
    swept = SweptPages()
    with read_scope(engine) as reading:
        kept = stored_pages.kept_pages(reading)
        now = time.time()
        due = [
            client_id
            for client_id, key, rendered_at in kept
            if now - rendered_at + SWEEP_SLACK >= max_age or page_key(reading, client_id) != key
        ]
    swept.current = len(kept) - len(due)
    for client_id in due:
        try:
            refresh(engine, clock, client_id)
            swept.rendered.append(client_id)
        except Exception:  # the others are still rendered; this one is tried next minute
            log.exception("rendering the status page of %s in the sweep failed", client_id)
            swept.failed.append(client_id)
    return swept
