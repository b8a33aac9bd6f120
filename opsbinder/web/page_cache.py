"""Rendered status pages, kept current off the request path.

A page with a thousand updates costs a large render (~0.25 s of CPU); during an outage its
readers reload it while updates keep arriving. Each request asks one cheap question (the
fingerprint: newest incident, event, update, run and procedure change of the client, and the
number of updates), so a change made through opsbinder is noticed at once. A page that renders
quickly is then rendered in the request. A page whose last render took more than `inline_seconds`
of CPU is re-rendered by one background thread while readers keep getting the previous
version for those few hundred milliseconds: no reader waits for a render, and one render serves
them all. A change made behind opsbinder's back (an edited row) does not move the fingerprint, so
entries also expire after `ttl` seconds: the chain is re-verified at least that often.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session

from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Incident, IncidentEvent, Procedure, Run, StatusUpdate

log = logging.getLogger(__name__)

# A render reads through the session it is given and returns the page, or None when there is no
# page (the client is gone): the request's own session when it renders in the request, a session
# of its own in the background (on SQLite a second session in the request's thread would wait for
# the request's own write lock).
Render = Callable[[Session], bytes | None]


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
    cost: float  # CPU seconds the render took


class PageCache:
    def __init__(self, ttl: float, inline_seconds: float = 0.1) -> None:
        self.ttl = ttl
        self.inline_seconds = inline_seconds
        self._entries: dict[str, _Entry] = {}
        self._rendering: set[str] = set()
        self._lock = threading.Lock()
        self._renderer: ThreadPoolExecutor | None = None

    def page(
        self, session: Session, name: str, key: tuple[Any, ...], render: Render
    ) -> bytes | None:
        """The page for `key`: the kept one while current, else a new one (see the module)."""
        if self.ttl <= 0:
            return render(session)
        with self._lock:
            entry = self._entries.get(name)
        if entry is not None and entry.key == key and time.monotonic() - entry.at <= self.ttl:
            return entry.body
        if entry is not None and entry.cost > self.inline_seconds:
            self._render_in_background(session.get_bind(), name, key, render)
            return entry.body
        return self._render(session, name, key, render)

    def _render(
        self, session: Session, name: str, key: tuple[Any, ...], render: Render
    ) -> bytes | None:
        began = time.thread_time()  # CPU, not wall time: a busy machine does not make a page slow
        body = render(session)
        with self._lock:
            if body is None:
                self._entries.pop(name, None)
            else:
                cost = time.thread_time() - began
                self._entries[name] = _Entry(key, time.monotonic(), body, cost)
        return body

    def _render_in_background(
        self, bind: Engine | Connection, name: str, key: tuple[Any, ...], render: Render
    ) -> None:
        """One render per page at a time: the readers who notice the change meanwhile are
        all served by it."""
        with self._lock:
            if name in self._rendering:
                return
            self._rendering.add(name)
            if self._renderer is None:
                self._renderer = ThreadPoolExecutor(1, thread_name_prefix="status-page")
            renderer = self._renderer

        def job() -> None:
            try:
                with session_scope(bind.engine) as own:
                    self._render(own, name, key, render)
            except Exception:  # the next reader tries again; the kept page stays meanwhile
                log.exception("rendering the status page of %s failed", name)
            finally:
                with self._lock:
                    self._rendering.discard(name)

        renderer.submit(job)
