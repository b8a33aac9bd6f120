"""Severity-1 updates against hostile text and a forger with the database: the Atom feed stays
well-formed for a real feed reader, and a rewritten update never shows as verified."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import requests
from sqlalchemy import Engine, select, update

from opsbinder.clock import FrozenClock
from opsbinder.incidents import status_updates
from opsbinder.store.db import session_scope
from opsbinder.store.models import StatusUpdate
from tests.web.conftest import World

HOSTILE = "Bell\x07 escape\x1b[31mred\x1b[0m form\x0cfeed\r\nnext\rline\x1f tab\tok \uffff"
CLEAN = "Bell escape[31mred[0m formfeed\nnext\nline tab\tok"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def feed(live_server: str, world: World) -> feedparser.FeedParserDict:
    answer = requests.get(
        f"{live_server}/status/nordhafen/feed.atom", params={"token": world.status_a}, timeout=10
    )
    assert answer.status_code == 200
    return feedparser.parse(answer.content)


def test_it_keeps_the_feed_well_formed_after_a_hostile_update(
    store: Engine, world: World, live_server: str
) -> None:
    posted = requests.post(
        f"{live_server}/api/v1/incidents/{world.incident_a}/updates",
        json={"current_status": HOSTILE, "next_steps": "watch", "business_impact": "none"},
        headers=bearer(world.api_a),
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    with session_scope(store) as s:
        stored = s.execute(select(StatusUpdate.current_status)).scalar_one()
    assert stored == CLEAN
    parsed = feed(live_server, world)
    assert not parsed.bozo, parsed.get("bozo_exception")
    texts = [e.content[0].value for e in parsed.entries]
    assert any("Current status: " + CLEAN in text for text in texts), texts


def test_it_strips_lone_surrogates_a_json_body_can_carry(
    store: Engine, clock: FrozenClock, world: World
) -> None:
    with session_scope(store) as s:
        row = status_updates.post_update(
            s, clock, world.incident_a, author="t", current_status="half \ud800 a pair",
            next_steps="b", business_impact="c", notify=False,
        )  # fmt: skip
        assert row.current_status == "half  a pair"


def test_it_refuses_a_nul_by_name(store: Engine, world: World, live_server: str) -> None:
    posted = requests.post(
        f"{live_server}/api/v1/incidents/{world.incident_a}/updates",
        json={"current_status": "ok", "next_steps": "a\x00b", "business_impact": "none"},
        headers=bearer(world.api_a),
        timeout=10,
    )
    assert posted.status_code == 422, posted.text
    assert "next_steps" in posted.text and "NUL" in posted.text  # the field, by name


def test_it_keeps_the_feed_well_formed_with_control_characters_stored_before(
    store: Engine, clock: FrozenClock, world: World, live_server: str
) -> None:
    with session_scope(store) as s:
        status_updates.post_update(
            s, clock, world.incident_a, author="t", current_status="a",
            next_steps="b", business_impact="c", notify=False,
        )  # fmt: skip
    with store.begin() as conn:  # what an older version let in
        conn.execute(update(StatusUpdate).values(business_impact="beep\x07\x1b[0m"))
    parsed = feed(live_server, world)
    assert not parsed.bozo, parsed.get("bozo_exception")
    texts = [e.content[0].value for e in parsed.entries]
    assert any("Business impact: beep[0m" in text for text in texts), texts


def test_it_never_shows_a_rewritten_update_as_verified(
    store: Engine, clock: FrozenClock, world: World, live_server: str
) -> None:
    for n in range(3):
        with session_scope(store) as s:
            status_updates.post_update(
                s, clock, world.incident_a, author="claudia-roth",
                current_status=f"status {n}", next_steps="n", business_impact="b", notify=False,
            )  # fmt: skip
        clock.advance(timedelta(hours=2))
    with session_scope(store) as s:  # the forger: #2 rewritten, its hash and #3's recomputed
        rows = status_updates.updates_of(s, world.incident_a)
        rows[1].current_status = "all fine, nothing happened"
        rows[1].hash = status_updates._row_hash(rows[1])
        rows[2].prev_hash = rows[1].hash
        rows[2].hash = status_updates._row_hash(rows[2])
    with session_scope(store) as s:
        rows = status_updates.updates_of(s, world.incident_a)
        assert status_updates.chain_problems(rows, {r.seq: r.hash for r in rows}) == []
        report = status_updates.verify_chain(s, world.incident_a)
    assert report.problems == [
        "update #2 differs from what the audit log recorded when it was posted",
        "update #3 differs from what the audit log recorded when it was posted",
    ]
    listed = requests.get(
        f"{live_server}/api/v1/incidents/{world.incident_a}/updates",
        headers=bearer(world.api_a),
        timeout=10,
    ).json()
    assert listed["chain_ok"] is False and listed["chain_problems"] == report.problems
    session = requests.Session()
    page = session.get(
        f"{live_server}/status/nordhafen", params={"token": world.status_a}, timeout=10
    )
    assert "does NOT verify" in page.text and "Update history verified" not in page.text
