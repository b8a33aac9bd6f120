"""Rendered status pages, sent without rendering them in the request.

A page with a thousand updates costs a large render (~0.25 s of CPU); during an outage its
readers reload it while updates keep arriving. So a page is rendered where its data changes: by
the writer of each change as it commits, and by the minutely sweep for what changes with time
alone (`store.stored_pages`, `page_render.render_due`). A request reads the kept page's stamp
(one primary-key lookup) and sends:

1. this process's copy, while the kept page is the one it copied (same fingerprint and render
   time), so a reload does not even fetch the bytes from the store;
2. else the kept page, fetched and copied.

Only a client whose page nothing keeps yet (its first reader, a fresh store) has its page
rendered in the request, and kept: from then on writers and the sweep keep it current.

The "As of" line of a kept page that is current (no writer's change and no change by time
since its render) is the time the server sends it (`opsbinder.web.as_of`); a page that is due
shows the time of its render.

A safety net for a store nobody sweeps (`opsbinder web` running without `opsbinder serve`): a kept
page due for more than `stale_after` seconds is rendered again by one background thread of the
server, while readers keep getting the kept page. With the sweep running it never fires. (The
sweep's periodic check of the hash chains has no such net: a store nobody sweeps has no watch
for missed runs either.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope
from opsbinder.web import as_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    key: str  # the fingerprint of the data it was rendered from (page_render.page_key)
    body: bytes
    changes_at: float = stored_pages.NEVER  # when time alone changes it (domain epoch s)
    checked_at: float | None = None  # the render's domain time (its chains checked then)
    marks_read: int = 0  # the writers' marks on the page its read saw (stored_pages.marks)


# A render reads through the session it is given and returns the page and its key, or None when
# there is no page (the client is gone). Read-only (`store.db.read_scope`): a request never waits
# for a writer's lock, and the page is kept in a short write afterwards.
Render = Callable[[Session], Rendered | None]
STALE_SWEEPS = 3  # a kept page due this many sweep periods ago: nobody sweeps this store


@dataclass
class _Entry:
    stamp: tuple[str, float]  # the kept page's fingerprint and render time
    body: bytes
    parts: as_of.Parts | None
    shown: dict[str, bytes] = field(default_factory=dict)  # the body as of one minute

    def sent_at(self, now: datetime) -> bytes:
        """The body with `now` as its "As of" time, built once per minute shown."""
        if self.parts is None:
            return self.body
        minute = now.strftime("%Y%m%d%H%M")
        found = self.shown.get(minute)
        if found is None:
            found = as_of.stamped(self.parts, now)
            self.shown = {minute: found}  # only the newest minute is kept
        return found


def keep(session: Session, client_id: str, rendered: Rendered | None, read_at: float) -> None:
    """Store a render (or forget the page of a client that is gone), in the caller's write."""
    if rendered is None:
        stored_pages.forget(session, client_id)
    else:
        stored_pages.save(
            session,
            client_id,
            rendered.key,
            rendered.body,
            read_at,
            changes_at=rendered.changes_at,
            checked_at=rendered.checked_at,
            marks_read=rendered.marks_read,
        )


class PageCache:
    def __init__(self, ttl: float) -> None:
        """`ttl`: the sweep's period (`status_cache_seconds`, at least a minute counted); 0
        renders every request (a baseline for the bench, and for debugging a template)."""
        self.ttl = ttl
        self.stale_after = STALE_SWEEPS * max(ttl, 60.0)
        self.renders = 0  # pages this process rendered itself (the writers' are not counted)
        self._entries: dict[str, _Entry] = {}
        self._rendering: set[str] = set()
        self._lock = threading.Lock()
        self._renderer: ThreadPoolExecutor | None = None

    def page(self, session: Session, name: str, render: Render, now: datetime) -> bytes | None:
        """The page to send at `now` (the domain clock; see the module); None when there is
        none (the client is gone)."""
        if self.ttl <= 0:
            self.renders += 1
            rendered = render(session)
            return rendered.body if rendered is not None else None
        kept = stored_pages.kept(session, name)
        if kept is None:  # the first reader: nobody has rendered this page yet
            return self._first(session, name, render)
        stamp = (kept.fingerprint, kept.rendered_at)
        with self._lock:
            entry = self._entries.get(name)
        if entry is None or entry.stamp != stamp:
            body = stored_pages.body(session, name, kept.fingerprint)
            if body is None:  # replaced between the two reads: the newer one next time
                return entry.body if entry is not None else self._first(session, name, render)
            entry = _Entry(stamp, body, as_of.split(body))
            with self._lock:
                self._entries[name] = entry
        at = now.timestamp()
        if at - kept.changes_at > self.stale_after:
            self._render_in_background(session.get_bind().engine, name, render)
        return entry.sent_at(now) if kept.changes_at > at else entry.body

    def _first(self, session: Session, name: str, render: Render) -> bytes | None:
        read_at = time.time()
        rendered = render(session)
        with self._lock:
            self.renders += 1
        self._keep(session.get_bind().engine, name, rendered, read_at)
        return rendered.body if rendered is not None else None

    @staticmethod
    def _keep(engine: Engine, name: str, rendered: Rendered | None, read_at: float) -> None:
        """Kept in a short write of its own: the reader's session takes no write lock."""
        with session_scope(engine) as writing:
            keep(writing, name, rendered, read_at)

    def _render_in_background(self, engine: Engine, name: str, render: Render) -> None:
        """One render per page at a time, off the request path; readers keep the kept page."""
        with self._lock:
            if name in self._rendering:
                return
            self._rendering.add(name)
            if self._renderer is None:
                self._renderer = ThreadPoolExecutor(1, thread_name_prefix="status-page")
            renderer = self._renderer
        log.warning("the status page of %s is stale: is the minutely sweep running?", name)

        def job() -> None:
            try:
                read_at = time.time()
                with read_scope(engine) as reading:
                    rendered = render(reading)
                with self._lock:
                    self.renders += 1
                self._keep(engine, name, rendered, read_at)
            except Exception:  # the next reader tries again; the kept page stays meanwhile
                log.exception("rendering the status page of %s failed", name)
            finally:
                with self._lock:
                    self._rendering.discard(name)

        renderer.submit(job)
