"""A status page that is slow to render is re-rendered off the request path, once per change."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from opsbinder.web.page_cache import PageCache
from tests.web.test_status_page import post

SESSION = Session(create_engine("sqlite://"))  # what a request holds; these renders read nothing


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


def test_a_slow_page_is_rendered_once_in_the_background_while_readers_get_the_previous_one():
    cache = PageCache(ttl=60, inline_seconds=-1)  # every kept page counts as slow
    first = SlowRender(b"version 1")
    threading.Timer(0.1, first.release.set).start()
    assert (
        cache.page(SESSION, "nordhafen", ("v1",), first) == b"version 1"
    )  # nothing kept: rendered here

    second = SlowRender(b"version 2")  # the data changed; this render is held back
    with ThreadPoolExecutor(8) as readers:
        began = time.monotonic()
        seen = list(
            readers.map(lambda _: cache.page(SESSION, "nordhafen", ("v2",), second), range(40))
        )
        waited = time.monotonic() - began
    assert seen == [b"version 1"] * 40 and waited < 5  # nobody waited for the render
    assert second.calls == 1  # forty readers, one render
    second.release.set()
    deadline = time.monotonic() + 10
    while cache.page(SESSION, "nordhafen", ("v2",), second) != b"version 2":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert second.calls == 1


def test_a_quick_page_is_rendered_in_the_request_so_a_change_shows_at_once():
    cache = PageCache(ttl=60, inline_seconds=5)
    assert cache.page(SESSION, "nordhafen", ("v1",), lambda _: b"version 1") == b"version 1"
    assert cache.page(SESSION, "nordhafen", ("v1",), lambda _: b"not asked") == b"version 1"
    assert cache.page(SESSION, "nordhafen", ("v2",), lambda _: b"version 2") == b"version 2"


def test_a_page_that_is_gone_is_forgotten():
    cache = PageCache(ttl=60)
    assert cache.page(SESSION, "nordhafen", ("v1",), lambda _: b"version 1") == b"version 1"
    assert cache.page(SESSION, "nordhafen", ("v2",), lambda _: None) is None
    assert cache.page(SESSION, "nordhafen", ("v2",), lambda _: b"back") == b"back"


def test_the_app_serves_the_kept_page_while_the_new_one_renders_then_the_new_one(
    web, world, store, clock, app
):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    assert "First look" in web.get(f"/status/nordhafen?token={world.status_a}").text
    app.state.page_cache.inline_seconds = -1  # every page counts as slow to render
    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    page = web.get("/status/nordhafen")
    assert page.status_code == 200 and "Second look" not in page.text  # the kept page
    deadline = time.monotonic() + 20
    while "Second look" not in web.get("/status/nordhafen").text:
        assert time.monotonic() < deadline, "the new page never arrived"
        time.sleep(0.05)
