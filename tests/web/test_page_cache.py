"""A status page is rendered when its data changes, by the writer, and sent by the server as is.

What changes with time alone, and a change no writer rendered, is the minutely sweep's to render;
the server renders a page only for its first reader (nothing kept yet), or off the request path
when nobody sweeps the store.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from opsbinder import sweep
from opsbinder.store import stored_pages
from opsbinder.store.db import read_scope, session_scope
from opsbinder.store.models import StoredPage
from opsbinder.web import page_render
from opsbinder.web.page_cache import PageCache, Rendered
from tests.web.test_status_page import post


class SlowRender:
    """A render that takes as long as the test says: it waits for `release`."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.calls = 0
        self.release = threading.Event()

    def __call__(self, _session: object) -> Rendered:
        self.calls += 1
        assert self.release.wait(10)
        return Rendered("v-slow", self.body)


def quick(body: bytes, key: str = "v1"):
    return lambda _session: Rendered(key, body)


def page(cache, store, render):
    with read_scope(store) as s:  # as the status page reads
        return cache.page(s, "nordhafen", render, datetime.now(UTC))


def stored(store):
    with session_scope(store) as s:
        return s.get(StoredPage, "nordhafen")


def sweep_pages(store, clock):
    """The minutely sweep's step, as the sweep flow runs it."""
    return sweep.step("status pages").does(store, clock, None)


def test_the_first_reader_renders_and_keeps_the_page_then_readers_only_send_it(store, world):
    cache = PageCache(ttl=60)
    assert page(cache, store, quick(b"version 1")) == b"version 1"  # nothing kept: rendered here
    assert stored(store).body == b"version 1" and cache.renders == 1
    for _ in range(3):  # whatever the data now: writers and the sweep keep the page current
        assert page(cache, store, quick(b"not asked", "v2")) == b"version 1"
    assert cache.renders == 1


def test_a_stale_page_nobody_sweeps_is_rendered_once_in_the_background(store, world):
    cache = PageCache(ttl=60)
    with session_scope(store) as s:
        stored_pages.save(  # due longer ago than the sweep would have let it be
            s, "nordhafen", "v1", b"version 1", changes_at=time.time() - cache.stale_after - 1
        )
    second = SlowRender(b"version 2")
    with ThreadPoolExecutor(8) as readers:
        began = time.monotonic()
        seen = list(readers.map(lambda _: page(cache, store, second), range(40)))
        waited = time.monotonic() - began
    assert seen == [b"version 1"] * 40 and waited < 5  # nobody waited for the render
    assert second.calls == 1  # forty readers, one render
    second.release.set()
    deadline = time.monotonic() + 10
    while page(cache, store, second) != b"version 2" or stored(store).body != b"version 2":
        assert time.monotonic() < deadline  # kept for every server process and writer too
        time.sleep(0.01)
    assert second.calls == 1


def test_a_page_that_is_gone_is_not_kept(store, world):
    cache = PageCache(ttl=60)
    assert page(cache, store, lambda _: None) is None
    assert stored(store) is None
    assert page(cache, store, quick(b"back")) == b"back"


def test_a_stored_page_is_sent_without_a_render_and_a_new_one_at_once(store, world):
    cache = PageCache(ttl=60)
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v7", b"rendered by the writer")
    assert page(cache, store, quick(b"rendered here")) == b"rendered by the writer"
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v8", b"rendered by the next writer")
    assert page(cache, store, quick(b"rendered here")) == b"rendered by the next writer"
    assert cache.renders == 0


def test_a_render_that_read_earlier_never_replaces_one_that_read_later(store, world):
    """Two writers render at once: the one whose snapshot is older stores last, and loses."""
    with session_scope(store) as s:
        stored_pages.save(s, "nordhafen", "v2", b"read after both changes", 2000.0)
        stored_pages.save(s, "nordhafen", "v1", b"read after the first change", 1000.0)
    assert stored(store).body == b"read after both changes"


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
    assert b"Second look" in after.body and after.changes_at > clock.now().timestamp()
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


def test_readers_get_the_previous_page_while_the_writer_renders_then_the_sweep_renders_it(
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
    assert stored(store).changes_at <= clock.now().timestamp()  # due: the writer's mark
    shown = web.get("/status/nordhafen")
    assert "First look" in shown.text and "Second look" not in shown.text
    monkeypatch.undo()
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]  # due: the writer marked it
    assert "Second look: replica caught up" in web.get("/status/nordhafen").text
    assert cache.renders == rendered  # no request rendered it


def test_tampering_with_an_update_shows_once_the_sweep_checks_the_page_again(
    web, world, store, clock, app
):
    post(store, clock, world.incident_a)
    web.get(f"/status/nordhafen?token={world.status_a}")
    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    assert "does NOT verify" not in web.get("/status/nordhafen").text  # the writer's page
    with session_scope(store) as s:
        s.execute(text("UPDATE status_updates SET next_steps = 'tampered'"))
    assert sweep_pages(store, clock)["rendered"] == []  # checked now, its fingerprint unmoved
    clock.advance(timedelta(minutes=15))  # the check period (status_check_minutes)
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]
    shown = web.get("/status/nordhafen").text
    assert "does NOT verify" in shown and "tampered" in shown  # as the rows now read
    assert app.state.page_cache.renders == 1  # its first reader's only


def test_the_as_of_line_is_the_time_sent_while_the_kept_page_is_current(
    web, world, store, clock, app, monkeypatch
):
    """No render a minute: a page nothing changed since its render is right as of now. A page
    a change is still to be rendered into says the time of its render instead."""
    assert "11:00 CET" in as_of(web.get(f"/status/nordhafen?token={world.status_a}").text)
    kept = stored(store)
    clock.advance(timedelta(minutes=7))
    assert sweep_pages(store, clock)["rendered"] == []
    assert "11:07 CET" in as_of(web.get("/status/nordhafen").text)  # the kept page, sent now
    assert stored(store).rendered_at == kept.rendered_at  # nothing rendered, nothing written
    monkeypatch.setattr(page_render, "refresh", lambda *_: None)  # a writer still rendering
    post(store, clock, world.incident_a, current_status="Second look")
    monkeypatch.undo()
    clock.advance(timedelta(seconds=30))
    shown = web.get("/status/nordhafen").text
    assert "Second look" not in shown and "11:00 CET" in as_of(shown)  # as of its render
    sweep_pages(store, clock)
    clock.advance(timedelta(minutes=1))
    shown = web.get("/status/nordhafen").text
    assert "Second look" in shown and "11:08 CET" in as_of(shown)
    assert app.state.page_cache.renders == 1


def as_of(page):
    start = page.index("As of ")
    return page[start : page.index("</p>", start)]


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


def test_the_served_app_keeps_what_it_loaded_out_of_the_garbage_collectors_walks(store):
    """A full collection walking every module and model stalled each request in flight for
    ~0.1 s: the status page's slowest percent. Checked in a process of its own (as served)."""
    import os
    import subprocess
    import sys

    probe = (
        "import gc\n"
        "from opsbinder.web.app import create_served_app\n"
        "create_served_app()\n"
        "print(gc.get_freeze_count())\n"
    )
    env = {**os.environ, "OPSBINDER_WEB_SECRET": "probe-secret"}
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 50_000  # the modules, models and templates
