"""What a client sees of an incident: the public view only, components with their 90 days,
authors by display name, and an Atom feed a reader can follow (checked with feedparser)."""

from __future__ import annotations

import re
from datetime import timedelta

import feedparser
import requests
from sqlalchemy import Engine, text

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from tests.web.conftest import World

UPDATE = {
    "current_status": "Failing over the TMS database",
    "next_steps": "Verify replication",
    "business_impact": "Order entry is down",
}


def on_component(store: Engine, incident_id: int, component: str) -> None:
    """What monitoring sets on the incidents it opens (an events: mapping of the binder)."""
    with store.begin() as conn:
        conn.execute(
            text("UPDATE incidents SET component = :c WHERE id = :i"),
            {"c": component, "i": incident_id},
        )


def page(web, world: World) -> str:  # type: ignore[no-untyped-def]
    answer = web.get(f"/status/nordhafen?token={world.status_a}")
    assert answer.status_code == 200
    return str(answer.text)


def test_it_shows_an_unpublished_incident_only_as_under_investigation_for_its_component(
    web, world, store, clock
):
    on_component(store, world.incident_a, "tms")
    before = page(web, world)
    assert "TMS backup missing" not in before  # the internal title
    assert "Transport management system (TMS): under investigation" in before
    assert "triggered" not in before and "Investigating" in before
    with session_scope(store) as s:
        lena = Principal.operator("lena")
        actions.set_public(
            s, clock, lena, world.incident_a, title="Order entry unavailable", state="identified"
        )
    after = page(web, world)
    assert "Order entry unavailable" in after and "Identified" in after
    assert "under investigation" not in after and "TMS backup missing" not in after


def test_it_names_the_author_by_display_name_never_by_login(web, world, store, clock):
    posted = web.post(
        f"/api/v1/incidents/{world.incident_a}/updates",
        json=UPDATE,
        headers={"Authorization": f"Bearer {world.api_staff}"},  # alice's token
    )
    assert posted.status_code == 201 and posted.json()["author_name"] == "Alice Ops"
    clock.advance(timedelta(hours=3))
    with session_scope(store) as s:  # the CLI run by the shell's root, no console account
        actions.post_update(s, clock, Principal.operator("root"), world.incident_a, **UPDATE)
    shown = page(web, world)
    authors = re.findall(r'<span class="author">([^<]*)</span>', shown)
    assert authors == ["Support team", "Alice Ops"]  # newest first
    assert "root" not in shown and "alice (token" not in shown


def test_it_shows_each_components_state_and_90_days_with_a_text_alternative(
    web, world, store, clock
):
    with session_scope(store) as s:
        old = lifecycle.trigger(
            s,
            clock.__class__(clock.now() - timedelta(days=10)),
            client_id="nordhafen",
            procedure_key=None,
            dedup_key="nordhafen/old",
            title="scanner gateway flapping",
            severity="sev3",
            details={},
            component="warehouse",
        )
        lifecycle.resolve(s, FrozenClock(clock.now() - timedelta(days=9)), old.id, actor="t")
        dup = lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key=None, dedup_key="nordhafen/dup",
            title="same outage again", severity="sev1", details={}, component="backups",
        )  # fmt: skip
    on_component(store, world.incident_a, "tms")
    with session_scope(store) as s:
        actions.link_duplicate(s, clock, Principal.operator("lena"), dup.id, world.incident_a)
    shown = page(web, world)
    services = shown[
        shown.index('id="components"') : shown.index("</section>", shown.index('id="components"'))
    ]
    tms = services[
        services.index('id="component-tms"') : services.index('id="component-warehouse"')
    ]
    assert "Major outage" in tms  # the open sev1 on it, said in words
    assert tms.count('<li class="day ') == 90 and 'aria-hidden="true"' in tms
    assert "1 with incidents" in tms and "Fri 20 Mar 2026: Major outage" in tms
    warehouse = services[
        services.index('id="component-warehouse"') : services.index('id="component-backups"')
    ]
    assert "Operational" in warehouse and "Degraded performance" in warehouse  # 10 days ago
    assert "Tue 10 Mar 2026: Degraded performance" in warehouse
    assert "Wed 11 Mar 2026: Degraded performance" in warehouse
    backups = services[services.index('id="component-backups"') :]
    assert "operational every day" in backups  # the duplicate counts once, on its primary
    assert "same outage again" not in shown
    assert "day-major" in tms and "day-degraded" in warehouse


def test_it_serves_a_feed_whose_links_carry_the_readers_token(
    store: Engine, clock: FrozenClock, world: World, live_server: str
) -> None:
    with session_scope(store) as s:
        lena = Principal.operator("lena")
        actions.set_public(s, clock, lena, world.incident_a, title="Order entry unavailable")
        actions.post_update(s, clock, lena, world.incident_a, **UPDATE)
        actions.resolve(s, clock, lena, world.incident_a)
    url = f"{live_server}/status/nordhafen/feed.atom?token={world.status_a}"
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    parsed = feedparser.parse(answer.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == url
    assert links["alternate"] == f"{live_server}/status/nordhafen?token={world.status_a}"
    kinds = sorted(
        e.id.rsplit(":", 2)[-1] if "update" not in e.id else "update" for e in parsed.entries
    )
    assert kinds == ["opened", "resolved", "update"]
    for entry in parsed.entries:
        assert entry.link.startswith(f"{live_server}/status/nordhafen?token={world.status_a}#")
        assert "TMS backup missing" not in entry.title
        assert "Order entry unavailable" in entry.title
    assert [e.author for e in parsed.entries if "update" in e.id] == ["Support team"]
    # the reader follows its link: the token in it opens the page
    opened = requests.get(parsed.entries[0].link, timeout=10)
    assert opened.status_code == 200 and "Order entry unavailable" in opened.text
    # another client's token gets no feed, and its links never name this client's token
    other = requests.get(
        f"{live_server}/status/nordhafen/feed.atom", params={"token": world.status_b}, timeout=10
    )
    assert other.status_code == 404 and world.status_a not in other.text


def test_it_leaves_the_token_out_of_links_for_a_reader_with_the_cookie_only(web, world):
    assert web.get(f"/status/nordhafen?token={world.status_a}").status_code == 200
    parsed = feedparser.parse(web.get("/status/nordhafen/feed.atom").content)
    assert not parsed.bozo
    assert {link.rel: link.href for link in parsed.feed.links}["self"].endswith(
        "/status/nordhafen/feed.atom"
    )
    assert all("token=" not in e.link for e in parsed.entries) and parsed.entries


def test_it_answers_the_status_api_with_the_public_view_to_the_clients_own_token(
    web, world, store, clock
):
    on_component(store, world.incident_a, "tms")
    with session_scope(store) as s:
        actions.post_update(s, clock, Principal.operator("root"), world.incident_a, **UPDATE)
    answer = web.get(
        "/api/v1/status/nordhafen", headers={"Authorization": f"Bearer {world.status_a}"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [incident] = body["open"]
    assert incident["title"] == "Transport management system (TMS): under investigation"
    assert incident["state"] == "investigating" and incident["component"].startswith("Transport")
    assert incident["updates"][0]["author"] == "Support team"
    assert "TMS backup missing" not in answer.text and "root" not in answer.text
    assert "triggered" not in answer.text
    levels = {c["id"]: c["status"] for c in body["components"]}
    assert levels == {"tms": "Major outage", "warehouse": "Operational", "backups": "Operational"}
    other = web.get(
        "/api/v1/status/nordhafen", headers={"Authorization": f"Bearer {world.status_b}"}
    )
    assert other.status_code == 404
