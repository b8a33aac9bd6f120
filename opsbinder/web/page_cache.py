"""Rendered status pages, sent without rendering them in the request.

A page with a thousand updates costs a large render (~0.25 s of CPU); during an outage its
readers reload it while updates keep arriving. Each request asks one cheap question, the
fingerprint of the client's data (`page_render.page_key`), and sends the page kept for it:

1. this process's copy, while its fingerprint is current and it is younger than `ttl`;
2. else the page the writer of the change rendered when it committed (`store.stored_pages`),
   under the same two conditions; while the writer is still rendering it (marked pending),
   the previous version;
3. else (the first reader, a change made behind opsbinder's back or by a writer that does not
   render, the expiry) the server renders it: in the request when the page is quick, else by
   one background thread while readers keep getting the previous version. That render is kept
   in the store too, which is what makes writers keep the page current from then on.

An edit behind opsbinder's back does not move the fingerprint, so a page older than `ttl`
seconds is rendered again: the chain is re-verified at least that often.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope

log = logging.getLogger(__name__)

# A render reads through the session it is given and returns the page, or None when there is no
# page (the client is gone): the request's own session when it renders in the request, one of
# its own in the background; both are read-only (`store.db.read_scope`), so a request never
# waits for a writer's lock, and the page is kept in a short write afterwards.
Render = Callable[[Session], bytes | None]
PENDING_SECONDS = 10.0  # a writer that has not stored its render by then is taken as gone


@dataclass
class _Entry:
    key: str
    at: float  # time.monotonic() of the render
    body: bytes
    cost: float  # CPU seconds the render took (0 when it was the writer's)


class PageCache:
    def __init__(self, ttl: float, inline_seconds: float = 0.1) -> None:
        self.ttl = ttl
        self.inline_seconds = inline_seconds
        self.renders = 0  # pages this process rendered itself (the writers' are not counted)
        self._entries: dict[str, _Entry] = {}
        self._rendering: set[str] = set()
        self._lock = threading.Lock()
        self._renderer: ThreadPoolExecutor | None = None

    def page(self, session: Session, name: str, key: str, render: Render) -> bytes | None:
        """The page for `key`: a kept one while current, else a new one (see the module)."""
        if self.ttl <= 0:
            self.renders += 1
            return render(session)
        with self._lock:
            entry = self._entries.get(name)
        if entry is not None and entry.key == key and time.monotonic() - entry.at <= self.ttl:
            return entry.body
        kept = stored_pages.kept(session, name)
        if kept is not None and kept.fingerprint == key:
            age = time.time() - kept.rendered_at
            body = stored_pages.body(session, name, key) if age <= self.ttl else None
            if body is not None:
                cost = entry.cost if entry is not None else 0.0
                with self._lock:
                    self._entries[name] = _Entry(key, time.monotonic() - max(age, 0), body, cost)
                return body
        pending = kept.pending_at if kept is not None else None
        if kept is not None and pending is not None and time.time() - pending <= PENDING_SECONDS:
            previous = entry.body if entry is not None else None  # the writer is rendering it
            if previous is None:
                previous = stored_pages.body(session, name, kept.fingerprint)
            if previous is not None:
                return previous
        if entry is not None and entry.cost > self.inline_seconds:
            self._render_in_background(session.get_bind(), name, key, render)
            return entry.body
        body = self._render(session, name, key, render)
        self._keep(session.get_bind().engine, name, key, body)
        return body

    @staticmethod
    def _keep(engine: Engine, name: str, key: str, body: bytes | None) -> None:
        """Kept in a short write of its own: the reader's session takes no write lock."""
        with session_scope(engine) as writing:
            if body is None:
                stored_pages.forget(writing, name)
            else:
                stored_pages.save(writing, name, key, body)

    def _render(self, session: Session, name: str, key: str, render: Render) -> bytes | None:
        began = time.thread_time()  # CPU, not wall time: a busy machine does not make a page slow
        body = render(session)
        with self._lock:
            self.renders += 1
            if body is None:
                self._entries.pop(name, None)
            else:
                cost = time.thread_time() - began
                self._entries[name] = _Entry(key, time.monotonic(), body, cost)
        return body

    def _render_in_background(
        self, bind: Engine | Connection, name: str, key: str, render: Render
    ) -> None:
        """One render per page at a time: the readers who notice the change meanwhile are
        all served by it. It reads without the write lock and keeps its page in a short write."""
        with self._lock:
            if name in self._rendering:
                return
            self._rendering.add(name)
            if self._renderer is None:
                self._renderer = ThreadPoolExecutor(1, thread_name_prefix="status-page")
            renderer = self._renderer

        def job() -> None:
            try:
                with read_scope(bind.engine) as reading:
                    body = self._render(reading, name, key, render)
                self._keep(bind.engine, name, key, body)
            except Exception:  # the next reader tries again; the kept page stays meanwhile
                log.exception("rendering the status page of %s failed", name)
            finally:
                with self._lock:
                    self._rendering.discard(name)

        renderer.submit(job)
