"""The client status page: reached by token link, one client only, every field, the Atom feed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from opsbinder import accounts, sweep
from opsbinder.incidents import lifecycle, status_updates
from opsbinder.runs import OUTCOMES
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, Run

FIELDS = {
    "current_status": "Database restored; replaying the write-ahead log",
    "next_steps": "Re-enable scanners once replay completes",
    "business_impact": "Warehouse 2 cannot print delivery notes",
    "bridge_url": "https://meet.example/sev1-tms",
}


def post(store, clock, incident_id, **extra):
    with session_scope(store) as s:
        return status_updates.post_update(
            s, clock, incident_id, author="alice", **{**FIELDS, **extra}
        )


def test_it_remembers_the_token_and_redirects_to_the_bare_address(web, world):
    answer = web.get(f"/status/nordhafen?token={world.status_a}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/status/nordhafen"
    page = web.get("/status/nordhafen")
    assert page.status_code == 200 and "Nordhafen Logistik" in page.text
    assert world.status_a not in page.text and world.status_a not in str(web.cookies)


def test_it_answers_404_without_a_token_or_with_another_clients_token(web, world):
    assert web.get("/status/nordhafen").status_code == 404
    assert web.get(f"/status/nordhafen?token={world.status_b}").status_code == 404
    assert web.get(f"/status/lindqvist?token={world.status_b}").status_code == 200
    # the cookie for lindqvist opens lindqvist only
    assert web.get("/status/nordhafen").status_code == 404
    assert web.get("/status/nosuchclient").status_code == 404
    assert web.get(f"/status/nordhafen/feed.atom?token={world.status_b}").status_code == 404


def test_it_stops_at_once_when_the_token_is_revoked(web, world, store, clock):
    assert web.get(f"/status/nordhafen?token={world.status_a}").status_code == 200
    with session_scope(store) as s:
        accounts.revoke_token(s, clock, prefix=world.status_a[:12], actor="test")
    assert web.get("/status/nordhafen").status_code == 404
    assert web.get(f"/status/nordhafen?token={world.status_a}").status_code == 404


def test_it_shows_every_field_newest_first_in_the_clients_zone(web, world, store, clock):
    post(store, clock, world.incident_a, current_status="First look: backup job hung")
    clock.advance(timedelta(hours=2, minutes=5))
    post(store, clock, world.incident_a, corrects_seq=1)
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    newest, oldest = page.index("Update #2"), page.index("Update #1")
    assert newest < oldest
    for value in FIELDS.values():
        assert value in page
    assert "corrects #1" in page
    # clock is 12:05 UTC; next update 16:05 UTC = 17:05 CET in Berlin (before the DST change)
    assert (
        'Next update by <strong><time datetime="2026-03-20T17:05+01:00" '
        'title="2026-03-20T17:05+01:00">Fri 20 Mar 2026, 17:05 CET</time></strong>'
    ) in page
    assert "Update history verified" in page
    assert "TMS 2027 release upgrade" in page  # maintenance window from the binder
    assert "(lindqvist)" not in page


def test_it_says_so_when_the_chain_does_not_verify(web, world, store, clock):
    post(store, clock, world.incident_a)
    with session_scope(store) as s:
        s.execute(text("UPDATE status_updates SET next_steps = 'tampered'"))
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    assert "does NOT verify" in page and "update #1 was changed" in page


def test_it_shows_the_state_of_each_procedure_group(web, world, store, clock):
    with session_scope(store) as s:
        procs = {
            p.key: p
            for p in s.execute(
                text("SELECT id, key, cadence FROM procedures WHERE client_id='nordhafen'")
            )
        }
        daily = [p for p in procs.values() if p.cadence == "daily"]
        assert daily, "the example binder has daily procedures"
        now = clock.now()
        for i, (proc, outcome) in enumerate(zip(daily, ["ok", "failed"], strict=False)):
            assert outcome in OUTCOMES
            s.add(
                Run(
                    client_id="nordhafen",
                    procedure_id=proc.id,
                    started_at=now - timedelta(hours=i + 1),
                    ended_at=now - timedelta(hours=i + 1),
                    outcome=outcome,
                )
            )
        s.get(Procedure, daily[0].id)
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    assert "Daily" in page and ("failing" in page or len(daily) == 1)


def test_it_lists_recently_resolved_incidents(web, world, store, clock):
    with session_scope(store) as s:
        lifecycle.resolve(s, clock, world.incident_a, actor="alice", message="fixed")
    page = web.get(f"/status/nordhafen?token={world.status_a}").text
    assert "All systems operating normally" in page
    assert "Recently resolved" in page and "Under investigation" in page
    assert "TMS backup missing" not in page  # the internal title: never shown to the client


def test_it_publishes_an_atom_feed_of_the_clients_updates_only(web, world, store, clock):
    post(store, clock, world.incident_a, current_status="Nordhafen <script>x</script>")
    post(store, clock, world.incident_b, current_status="Lindqvist secret status")
    answer = web.get(f"/status/nordhafen/feed.atom?token={world.status_a}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/atom+xml")
    assert "Lindqvist" not in answer.text and "lindqvist" not in answer.text
    root = ET.fromstring(answer.text)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert [e.find("a:id", ns).text.rsplit(":", 2)[-2:] for e in entries] == [
        [str(world.incident_a), "opened"],
        ["update", "1"],
    ]
    assert "Nordhafen <script>x</script>" in entries[1].find("a:content", ns).text
    updated = datetime.fromisoformat(root.find("a:updated", ns).text)
    assert updated == clock.now().astimezone(UTC)


def test_it_reuses_a_rendered_page_only_while_nothing_changed(web, world, store, clock, app):
    post(store, clock, world.incident_a)
    first = web.get(f"/status/nordhafen?token={world.status_a}").text
    assert web.get("/status/nordhafen").text == first  # served from the cache
    clock.advance(timedelta(hours=2))
    post(store, clock, world.incident_a, current_status="Second look: replica caught up")
    assert "Second look: replica caught up" in web.get("/status/nordhafen").text
    # an edit behind opsbinder's back does not change the fingerprint: the sweep renders the
    # page again once its check period (status_check_minutes) has passed, and checks the chain
    with session_scope(store) as s:
        s.execute(text("UPDATE status_updates SET next_steps = 'tampered'"))
    assert "does NOT verify" not in web.get("/status/nordhafen").text
    clock.advance(timedelta(minutes=15))
    sweep.step("status pages").does(store, clock, None)
    assert "does NOT verify" in web.get("/status/nordhafen").text
