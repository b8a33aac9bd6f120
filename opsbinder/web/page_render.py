"""A client's status page as bytes, and the fingerprint of the data it shows.

One render for every path: the writer of a change renders the page after its commit (`refresh`,
called by `opsbinder.store.stored_pages`); the minutely sweep renders a kept page again when it
is due (`render_due`: time alone changed it, a writer's mark was not rendered, its data moved
without a mark, or its hash chains are due a check); the web server renders a page only for its
first reader, when nothing is kept yet.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Template
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock
from opsbinder.evidence.monthly import packs_root, published_packs
from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope
from opsbinder.store.models import Client, Incident, IncidentEvent, Procedure, Run, StatusUpdate
from opsbinder.web.page_cache import Rendered, keep
from opsbinder.web.status_data import status_page

log = logging.getLogger(__name__)


def _fingerprint_of(client: Any) -> list[Any]:
    """Columns that move with every change made through opsbinder to what the page shows:
    newest incident, event, update, run and procedure change, the update count, the client."""

    def of_incidents(column: Any, incident_id: Any) -> Any:  # the client's, one level deep
        return (
            select(column)
            .select_from(incident_id.class_)
            .join(Incident, Incident.id == incident_id)
            .where(Incident.client_id == client)
            .scalar_subquery()
        )

    return [
        select(func.max(Incident.id)).where(Incident.client_id == client).scalar_subquery(),
        of_incidents(func.max(IncidentEvent.id), IncidentEvent.incident_id),
        of_incidents(func.max(StatusUpdate.id), StatusUpdate.incident_id),
        of_incidents(func.count(StatusUpdate.id), StatusUpdate.incident_id),
        select(func.max(Run.id)).where(Run.client_id == client).scalar_subquery(),
        select(func.max(Procedure.updated_at))
        .where(Procedure.client_id == client)
        .scalar_subquery(),
        Client.updated_at,
    ]


def fingerprints(session: Session, client_ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Each client's fingerprint, all in one query (a client that is gone is missing)."""
    if not client_ids:
        return {}
    rows = session.execute(
        select(Client.id, *_fingerprint_of(Client.id)).where(Client.id.in_(client_ids))
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _key(fingerprint: tuple[Any, ...], client_id: str, with_packs: bool = True) -> str:
    """The fingerprint and the evidence packs on offer (files, not rows), as stored;
    `with_packs` False: the client has no folder of packs (known from one listing)."""
    key = [*fingerprint, *(published_packs(client_id) if with_packs else [])]
    return json.dumps(key, default=str, separators=(",", ":"))


def _with_packs() -> set[str]:
    """The clients with a folder of evidence packs: one listing for a pass, not one settings
    lookup and folder check per kept page (two thirds of a pass with nothing due)."""
    try:
        with os.scandir(packs_root()) as found:
            return {entry.name for entry in found if entry.is_dir()}
    except FileNotFoundError:
        return set()


def page_key(session: Session, client_id: str) -> str:
    found = fingerprints(session, [client_id]).get(client_id)
    return _key(found if found is not None else (None,) * 7, client_id)


def render_kept(
    session: Session, clock: Clock, template: Template, client_id: str
) -> Rendered | None:
    """The page, its key, when it next changes by time alone and the writers' marks it shows
    (read first: see `stored_pages.marks`); None when the client is not (or no longer) there."""
    marks = stored_pages.marks(session, client_id)
    key = page_key(session, client_id)
    data = status_page(session, clock, client_id)
    if data is None:
        return None
    html: str = template.render(page=data)
    changes_at = data.changes_at.timestamp() if data.changes_at else stored_pages.NEVER
    return Rendered(key, html.encode(), changes_at, data.now.timestamp(), marks)


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
        rendered = render_kept(reading, clock, _template(), client_id)
    with session_scope(engine) as writing:
        keep(writing, client_id, rendered, read_at)


@dataclass
class SweptPages:
    rendered: list[str] = field(default_factory=list)
    checked: int = 0  # of those, rendered only because their hash chains were due a check
    current: int = 0  # kept pages not due: nothing rendered, nothing written
    failed: list[str] = field(default_factory=list)


def render_due(engine: Engine, clock: Clock, check_every: float, checks: int) -> SweptPages:
    """The minutely sweep's step: render the kept pages that are due, so a request never has to
    (the server sends the kept page as it is). Due: its content changes by time at or before
    now (`changes_at`) or a writer's change was not rendered yet (the mark set it); its data's
    fingerprint moved without a mark (a change made by hand, a writer that forgot to mark, a
    first reader that read just before a change); or, for at most `checks` pages a pass, the
    least recently checked ones, its hash chains last checked `check_every` seconds ago or
    more (edits behind opsbinder's back). A pass with nothing due issues three statements,
    whatever the number of pages, and lists the evidence folder once (and each client's with
    packs)."""
    now = clock.now().timestamp()
    swept = SweptPages()
    with read_scope(engine) as reading:
        due = stored_pages.due(reading, now, now - check_every, checks)
        kept = stored_pages.fingerprints(reading)
        current = fingerprints(reading, sorted(kept))
    packs = _with_packs()
    for client_id, key in kept.items():
        found = current.get(client_id)
        moved = found is None or _key(found, client_id, client_id in packs) != key
        if moved and client_id not in due:
            due[client_id] = "moved"
    swept.current = len(kept) - len(due)
    for client_id, why in sorted(due.items()):
        try:
            refresh(engine, clock, client_id)
            swept.rendered.append(client_id)
            swept.checked += why == "check"
        except Exception:  # the others are still rendered; this one is tried next minute
            log.exception("rendering the status page of %s in the sweep failed", client_id)
            swept.failed.append(client_id)
    return swept
