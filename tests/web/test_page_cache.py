"""A status page is rendered when its data changes, by the writer, and sent by the server as is.

The server renders a page itself only when no writer did (first reader, a change behind
opsbinder's back, expiry), and a page slow to render is then re-rendered off the request path.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select, text

from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope
from opsbinder.store.models import StoredPage
from opsbinder.web import page_render
from opsbinder.web.page_cache import PageCache
from tests.web.test_status_page import post


class SlowRender:
    """A render that takes as long as the test says: it waits for `release`."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls = 0
        self.release = threading.Event()

    def __call__(self, _session: object) -> bytes:
        self.calls += 1
        assert self.release.wait(10)
        return self.body


def page(cache, store, key, render):
    with read_scope(store) as s:  # as the status page reads
        return cache.page(s, "nordhafen", key, render)


def stored(store):
    with session_scope(store) as s:
        return s.get(StoredPage, "nordhafen")


def test_a_slow_page_is_rendered_once_in_the_background_while_readers_get_the_previous_one(
    store, world
):
    cache = PageCache(ttl=60, inline_seconds=-1)  # every kept page counts as slow
    first = SlowRender(b"version 1")
    threading.Timer(0.1, first.release.set).start()
    assert page(cache, store, "v1", first) == b"version 1"  # nothing kept: rendered here

    second = SlowRender(b"version 2")  # the data changed; this render is held back
    with ThreadPoolExecutor(8) as readers:
        began = time.monotonic()
        seen = list(readers.map(lambda _: page(cache, store, "v2", second), range(40)))
        waited = time.monotonic() - began
    assert seen == [b"version 1"] * 40 and waited < 5  # nobody waited for the render
    assert second.calls == 1  # forty readers, one render
    second.release.set()
    deadline = time.monotonic() + 10
    while page(cache, store, "v2", second) != b"version 2" or stored(store).body != b"version 2":
        assert time.monotonic() < deadline  # kept for every server process and writer too
        time.sleep(0.01)
    assert second.calls == 1


def test_a_quick_page_is_rendered_in_the_request_so_a_change_shows_at_once(store, world):
    cache = PageCache(ttl=60, inline_seconds=5)
    assert page(cache, store, "v1", lambda _: b"version 1") == b"version 1"
    assert page(cache, store, "v1", lambda _: b"not asked") == b"version 1"
    assert page(cache, store, "v2", lambda _: b"version 2") == b"version 2"


def test_a_page_that_is_gone_is_forgotten(store, world):
    cache = PageCache(ttl=60)
    assert page(cache, store, "v1", lambda _: b"version 1") == b"version 1"
    assert page(cache, store, "v2", lambda _: None) is None
    assert stored(store) is None
    assert page(cache, store, "v2", lambda _: b"back") == b"back"


def test_a_page_stored_for_the_current_data_is_sent_without_a_render(store, world):
    cache = PageCache(ttl=60)
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v7", b"rendered by the writer")
    assert page(cache, store, "v7", lambda _: b"rendered here") == b"rendered by the writer"
    assert cache.renders == 0
    # the same page for other data, or older than the cache's bound, is not sent
    assert page(cache, store, "v8", lambda _: b"rendered here") == b"rendered here"
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v9", b"rendered by the writer")
        s.execute(text("UPDATE stored_pages SET rendered_at = rendered_at - 61"))
    assert page(cache, store, "v9", lambda _: b"rendered again") == b"rendered again"
    assert cache.renders == 2


def test_the_writer_renders_the_page_on_commit_and_the_server_only_sends_it(
    web, world, store, clock, app
):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    assert "First look" in web.get(f"/status/nordhafen?token={world.status_a}").text
    cache = app.state.page_cache
    rendered, first = cache.renders, stored(store)
    assert rendered == 1 and first is not None  # the first reader rendered and kept it

    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    after = stored(store)  # as the writer's post returns, its page is kept
    assert b"Second look" in after.body and after.pending_at is None
    assert after.fingerprint != first.fingerprint
    for _ in range(3):
        shown = web.get("/status/nordhafen")
        assert shown.status_code == 200 and "Second look: replica caught up" in shown.text
    assert cache.renders == rendered  # no request rendered it


def test_a_writer_does_not_render_a_page_nobody_reads(web, world, store, clock):
    post(store, clock, world.incident_a, current_status="Nobody looked yet")
    assert stored(store) is None
    assert "Nobody looked yet" in web.get(f"/status/nordhafen?token={world.status_a}").text
    assert stored(store) is not None


def test_readers_get_the_previous_page_while_the_writer_renders_then_render_if_it_never_does(
    web, world, store, clock, app, monkeypatch
):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    assert "First look" in web.get(f"/status/nordhafen?token={world.status_a}").text
    cache = app.state.page_cache
    rendered = cache.renders

    def stuck(*_args: object) -> None:  # a writer still rendering, or one that died meanwhile
        raise RuntimeError("the writer did not get to store its page")

    monkeypatch.setattr(page_render, "refresh", stuck)
    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    assert stored(store).pending_at is not None
    shown = web.get("/status/nordhafen")
    assert "First look" in shown.text and "Second look" not in shown.text
    assert cache.renders == rendered  # the readers leave the render to the writer
    with session_scope(store) as s:  # ... for as long as the writer may still be at it
        s.execute(text("UPDATE stored_pages SET pending_at = pending_at - 11"))
    assert "Second look: replica caught up" in web.get("/status/nordhafen").text
    assert cache.renders == rendered + 1


def test_tampering_with_an_update_shows_on_the_writers_page_within_the_bound(
    web, world, store, clock, app
):
    post(store, clock, world.incident_a)
    web.get(f"/status/nordhafen?token={world.status_a}")
    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    assert "does NOT verify" not in web.get("/status/nordhafen").text  # the writer's page
    with session_scope(store) as s:
        s.execute(text("UPDATE status_updates SET next_steps = 'tampered'"))
    app.state.page_cache.ttl = 0.2
    time.sleep(0.3)
    shown = web.get("/status/nordhafen").text
    assert "does NOT verify" in shown and "tampered" in shown  # as the rows now read


def test_a_read_scope_reads_while_a_writer_holds_the_store(store, world):
    with session_scope(store) as writing:
        writing.execute(text("UPDATE clients SET name = 'Renamed' WHERE id = 'nordhafen'"))
        began = time.monotonic()
        with read_scope(store) as reading:  # on SQLite a write scope would wait 30 s here
            name = reading.scalar(text("SELECT name FROM clients WHERE id = 'nordhafen'"))
        assert name != "Renamed" and time.monotonic() - began < 5  # the committed snapshot
    with read_scope(store) as reading:
        assert reading.scalars(select(StoredPage)).all() == []


def test_a_reader_of_the_page_does_not_wait_for_a_writer(web, world, store, clock):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    assert "First look" in web.get(f"/status/nordhafen?token={world.status_a}").text
    with session_scope(store) as writing:  # a writer in the middle of its transaction
        writing.execute(text("UPDATE clients SET name = 'Renamed' WHERE id = 'lindqvist'"))
        began = time.monotonic()
        shown = web.get("/status/nordhafen")  # on SQLite a write lock would wait 30 s here
        assert shown.status_code == 200 and "First look" in shown.text
        assert time.monotonic() - began < 5


def test_a_savepoint_inside_a_change_does_not_render_until_the_change_commits(
    store, world, clock, monkeypatch
):
    """Console forms post inside a savepoint: rendering at its release waited on the row its own
    open transaction had marked (a hang on PostgreSQL, a busy wait on SQLite)."""
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v1", b"kept: a reader asked for it")
    renders: list[str] = []
    monkeypatch.setattr(page_render, "refresh", lambda _e, _c, client: renders.append(client))
    with session_scope(store) as s:
        with s.begin_nested():
            stored_pages.mark(s, clock, "nordhafen")
        assert renders == []  # the savepoint is released; the change is not committed yet
        s.begin_nested().rollback()  # a savepoint that fails keeps the change's marks
    assert renders == ["nordhafen"]
