"""The minutely sweep renders a kept status page only when it is due, and the "As of" line
stays true without a render each minute.

Due: what the page shows changes by time alone (`changes_at`, computed at render time: a window
starting or ending, a resolved incident ageing out, the day strips at the client's midnight), a
writer's change no render has shown yet, or its hash chains are due a check (every
`status_check_minutes`, at most `status_checks_per_pass` pages a pass). Seen from outside: the
sweep step as the sweep flow runs it, the page over HTTP, the store's rows and its statements.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select, text

from opsbinder import sweep
from opsbinder.settings import get_settings
from opsbinder.store import stored_pages
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, StoredPage
from opsbinder.web import page_render
from tests.web.test_component_maintenance import with_windows
from tests.web.test_status_page import post


def sweep_pages(store, clock):
    """The minutely sweep's step, as the sweep flow runs it."""
    return sweep.step("status pages").does(store, clock, None)


def read(web, world):
    answer = web.get(f"/status/nordhafen?token={world.status_a}")
    assert answer.status_code == 200
    return answer.text


def as_of(page):
    start = page.index("As of ")
    return page[start : page.index("</p>", start)]


def tms(page):
    start = page.index('id="component-tms"')
    return page[start : page.index("</li>", start)]


@pytest.fixture
def renders(monkeypatch):
    """Every page rendered for keeping (writer, sweep or first reader), by client."""
    done: list[str] = []
    real = page_render.render_kept

    def counted(session, clock, template, client_id):
        done.append(client_id)
        return real(session, clock, template, client_id)

    monkeypatch.setattr(page_render, "render_kept", counted)
    return done


def clients_like_nordhafen(store, count):
    """`count` more clients with Nordhafen's binder (its components and windows)."""
    with session_scope(store) as s:
        row = s.get(Client, "nordhafen")
        columns = [c.key for c in Client.__table__.columns if c.key != "id"]
        base = {k: getattr(row, k) for k in columns}
        ids = [f"fleet-{n:03d}" for n in range(count)]
        s.execute(insert(Client), [{**base, "id": i, "name": f"Fleet {i}"} for i in ids])
    return ids


def test_a_pass_with_nothing_due_renders_nothing_in_the_same_statements_for_5_or_50_pages(
    store, world, clock, renders
):
    ids = clients_like_nordhafen(store, 50)
    statements: list[str] = []

    def count(*args):
        statements.append(args[2])

    event.listen(store, "before_cursor_execute", count)
    try:
        counts = []
        for kept in (ids[:5], ids[5:]):
            for client_id in kept:  # as each one's writer (or first reader) renders it
                page_render.refresh(store, clock, client_id)
            clock.advance(timedelta(minutes=1))
            renders.clear()
            statements.clear()
            swept = sweep_pages(store, clock)
            assert swept["rendered"] == [] and renders == []
            counts.append(len(statements))
        assert swept["current"] == 50
    finally:
        event.remove(store, "before_cursor_execute", count)
    assert counts[0] == counts[1] <= 8  # 5 pages or 50: the same few statements


def test_a_window_starting_in_five_minutes_is_shown_by_the_first_pass_after_it_starts(
    web, world, store, clock, app
):
    before = read(web, world)  # kept from now on
    assert "Operational" in tms(before)
    start = clock.now() + timedelta(minutes=5)
    window = {
        "name": "TMS failover test",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "components": ["tms"],
    }
    with_windows(store, clock, window)  # the load's writer renders the page
    assert "TMS failover test" in web.get("/status/nordhafen").text
    clock.advance(timedelta(minutes=4, seconds=59))
    assert sweep_pages(store, clock)["rendered"] == []  # not before it starts
    assert "Operational" in tms(web.get("/status/nordhafen").text)
    clock.advance(timedelta(seconds=1))
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]
    assert "Under maintenance" in tms(web.get("/status/nordhafen").text)
    clock.advance(timedelta(minutes=1))
    assert sweep_pages(store, clock)["rendered"] == []  # next due: the window's end
    clock.advance(timedelta(minutes=59))
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]
    shown = web.get("/status/nordhafen").text
    assert "Operational" in tms(shown) and "TMS failover test" not in shown.split("Scheduled")[1]
    assert app.state.page_cache.renders == 1  # its first reader's only


def test_a_resolved_incident_leaves_the_page_with_the_first_pass_fourteen_days_on(
    web, world, store, clock
):
    from opsbinder.incidents import lifecycle

    with session_scope(store) as s:
        lifecycle.resolve(s, clock, world.incident_a, actor="alice", message="fixed")
    section = read(web, world).split("Recently resolved")[1]
    assert f'id="incident-{world.incident_a}"' in section
    clock.advance(timedelta(days=14))
    sweep_pages(store, clock)  # the strips' midnights passed meanwhile
    assert f'id="incident-{world.incident_a}"' in web.get("/status/nordhafen").text  # 14 days
    assert sweep_pages(store, clock)["rendered"] == []
    clock.advance(timedelta(seconds=1))
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]
    assert f'id="incident-{world.incident_a}"' not in web.get("/status/nordhafen").text


def _row(store):
    with session_scope(store) as s:
        return s.execute(select(StoredPage)).scalars().one()


def test_a_hand_edited_audit_row_shows_as_tampering_after_the_check_period(
    web, world, store, clock
):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    assert "hash chain intact" in read(web, world)
    with session_scope(store) as s:  # behind opsbinder's back: no writer, no fingerprint moved
        s.execute(
            text("UPDATE audit_log SET actor = 'mallory' WHERE action = 'incident.status_update'")
        )
    clock.advance(timedelta(minutes=14))
    assert sweep_pages(store, clock)["rendered"] == []
    assert "does NOT verify" not in web.get("/status/nordhafen").text
    clock.advance(timedelta(minutes=1))
    swept = sweep_pages(store, clock)
    assert swept["rendered"] == ["nordhafen"] and swept["checked"] == 1
    shown = web.get("/status/nordhafen").text
    assert "does NOT verify" in shown and "has no record in the audit log" in shown


def test_a_pass_checks_at_most_the_configured_number_of_pages_the_oldest_first(
    store, world, clock, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_STATUS_CHECKS_PER_PASS", "2")
    monkeypatch.setenv("OPSBINDER_STATUS_CHECK_MINUTES", "10")
    get_settings.cache_clear()
    ids = clients_like_nordhafen(store, 5)
    for client_id in ids:
        page_render.refresh(store, clock, client_id)
        clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(minutes=10))
    passes = []
    for _ in range(4):
        passes.append(sweep_pages(store, clock)["rendered"])
        clock.advance(timedelta(minutes=1))
    assert passes == [ids[:2], ids[2:4], ids[4:], []]


def test_a_change_committed_after_a_render_read_leaves_the_page_due(
    store, world, clock, monkeypatch
):
    """A render that read before a writer's change stores its page after the writer marked it:
    the page must stay due (the writer may have died before its own render)."""
    page_render.refresh(store, clock, "nordhafen")
    with session_scope(store) as s:
        read_marks = stored_pages.marks(s, "nordhafen")
    monkeypatch.setattr(page_render, "refresh", lambda *_: None)  # the writer dies
    with session_scope(store) as s:
        stored_pages.mark(s, clock, "nordhafen")
    monkeypatch.undo()
    with session_scope(store) as s:  # the earlier render stores its page last
        stored_pages.save(s, "nordhafen", "old", b"read before the change",
                          changes_at=clock.now().timestamp() + 3600, marks_read=read_marks)  # fmt: skip
    assert _row(store).changes_at <= clock.now().timestamp()
    assert sweep_pages(store, clock)["rendered"] == ["nordhafen"]
    assert _row(store).changes_at > clock.now().timestamp()
