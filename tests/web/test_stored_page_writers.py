"""Every change to what a client's status page shows renders the kept page as it commits.

Seen from the outside: a reader has the page (so it is kept), something changes it the way
opsbinder changes it (a run finishing, a binder load, a pause), and the next reader gets the new
page over HTTP while the server itself rendered nothing (`page_cache.renders` did not move).
"""

from __future__ import annotations

from datetime import timedelta

from markupsafe import escape

from opsbinder import pauses, runs
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from tests.support.world import two_client_binder

PROCEDURE = "check-tms-backup"


def read(web, world):
    shown = web.get(f"/status/nordhafen?token={world.status_a}")
    assert shown.status_code == 200
    return shown.text


def procedure_line(page, name):
    """The page's line for one procedure: its name, last outcome and time, paused or not."""
    start = page.index(f'<div class="proc">{escape(name)} ')
    return page[start : page.index("</div>", start)]


def test_it_shows_a_run_finishing_without_rendering_in_a_request(web, world, store, clock, app):
    with session_scope(store) as s:
        run = runs.start_run(
            s, clock, client_id="nordhafen", procedure_key=PROCEDURE, flow_run_id="f-1",
            scheduled_for=None,
        )  # fmt: skip
        run_id = run.id
    page = read(web, world)  # the running run is not shown yet; the page is kept from now on
    name = _name(store)
    assert "— not run yet" in procedure_line(page, name)
    rendered = app.state.page_cache.renders
    clock.advance(timedelta(minutes=3))
    with session_scope(store) as s:
        runs.finish_run(s, clock, run_id, "failed", "no backup newer than 26h")
    shown = web.get("/status/nordhafen").text
    assert '— failed, <time datetime="2026-03-20T11:03+01:00"' in procedure_line(shown, name)
    assert app.state.page_cache.renders == rendered  # the run's writer rendered it


def test_it_shows_a_missed_run_without_rendering_in_a_request(web, world, store, clock, app):
    read(web, world)
    rendered = app.state.page_cache.renders
    with session_scope(store) as s:
        runs.record_skipped(
            s, clock, client_id="nordhafen", procedure_key=PROCEDURE, reason="missed",
            outcome="missed",
        )  # fmt: skip
    assert "— missed" in procedure_line(web.get("/status/nordhafen").text, _name(store))
    assert app.state.page_cache.renders == rendered


def test_it_shows_a_procedure_changed_by_a_binder_load_without_rendering_in_a_request(
    web, world, store, clock, app, example_dir
):
    read(web, world)
    rendered = app.state.page_cache.renders
    binder = two_client_binder(example_dir)
    nordhafen = binder.clients[0]
    procedures = [
        p.model_copy(update={"name": "Backup of the TMS, checked nightly"})
        if p.id == PROCEDURE
        else p
        for p in nordhafen.procedures
    ]
    info = nordhafen.client.model_copy(update={"status_page_title": "Nordhafen: how we are"})
    changed = nordhafen.model_copy(update={"procedures": procedures, "client": info})
    clock.advance(timedelta(minutes=1))
    with session_scope(store) as s:
        sync_binder(s, binder.model_copy(update={"clients": [changed, binder.clients[1]]}), clock)
    shown = web.get("/status/nordhafen").text
    assert '<div class="proc">Backup of the TMS, checked nightly ' in shown
    assert "<title>Nordhafen: how we are" in shown
    assert app.state.page_cache.renders == rendered


def test_it_shows_a_pause_without_rendering_in_a_request(web, world, store, clock, app):
    read(web, world)
    rendered = app.state.page_cache.renders
    with session_scope(store) as s:
        target = pauses.PauseTarget("nordhafen", PROCEDURE)
        assert pauses.set_paused(s, target, True, clock, "alice")
    assert ", paused" in procedure_line(web.get("/status/nordhafen").text, _name(store))
    assert app.state.page_cache.renders == rendered


def _name(store):
    from sqlalchemy import select

    from opsbinder.store.models import Procedure

    with session_scope(store) as s:
        return s.scalar(
            select(Procedure.name).where(
                Procedure.client_id == "nordhafen", Procedure.key == PROCEDURE
            )
        )
