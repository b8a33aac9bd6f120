"""SLA on the pages: the console shows an incident's clocks and its waiting button, the status
page shows a recorded breach when the contract says so (the example's does), and the API sets
and clears waiting on the client. The clock: Friday 2026-03-20 10:00 UTC; a sev1 answers within
15 minutes, counted around the clock."""

from __future__ import annotations

from datetime import timedelta

from opsbinder.incidents import escalator, lifecycle
from opsbinder.store.db import session_scope
from tests.web.conftest import csrf_of, sign_in


def test_the_status_page_shows_a_breach_the_sweep_recorded(web, world, store, clock):
    page = web.get(f"/status/nordhafen?token={world.status_a}")
    assert page.status_code == 200 and "SLA response target missed" not in page.text
    clock.advance(timedelta(minutes=16))
    escalator.sweep(store, clock)
    page = web.get("/status/nordhafen")
    assert 'SLA response target missed at <time datetime="2026-03-20T11:15+01:00"' in page.text
    other = web.get(f"/status/lindqvist?token={world.status_b}")
    assert other.status_code == 200 and "SLA response target missed at" in other.text


def test_the_console_shows_the_clocks_and_pauses_them(web, world, store, clock):
    sign_in(web)
    url = f"/console/incidents/{world.incident_a}"
    page = web.get(url)
    assert 'id="sla"' in page.text and "Waiting on client: pause SLA clocks" in page.text
    answer = web.post(f"{url}/wait", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
    assert "waits on the client; SLA clocks stand still" in answer.text
    assert "Client answered: clocks run" in answer.text and "paused" in answer.text
    clock.advance(timedelta(hours=1))
    escalator.sweep(store, clock)
    with session_scope(store) as s:
        kinds = [e.kind for e in lifecycle.events(s, world.incident_a)]
    assert "waiting_on_client" in kinds and escalator.BREACHED not in kinds
    page = web.get(url)
    answer = web.post(f"{url}/unwait", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
    assert "no longer waits on the client" in answer.text


def test_the_api_sets_and_clears_waiting_and_refuses_twice(web, world, store):
    auth = {"Authorization": f"Bearer {world.api_staff}"}
    url = f"/api/v1/incidents/{world.incident_a}/waiting"
    assert web.post(url, headers=auth, json={"waiting": True}).status_code == 200
    again = web.post(url, headers=auth, json={"waiting": True})
    assert again.status_code == 409 or again.status_code == 400 or again.status_code == 422
    assert "already waits on the client" in again.text
    assert web.post(url, headers=auth, json={"waiting": False}).status_code == 200
    assert web.post(url, headers=auth, json={"waiting": "maybe"}).status_code == 422
