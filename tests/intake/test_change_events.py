"""PagerDuty change events (`POST /v2/change/enqueue`), sent by PagerDuty's own client
(`EventsApiV2Client.send_change_event`) against the served app: a deploy pipeline's one new URL."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from opsbinder import changes
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from opsbinder.store.models import ChangeEvent, Incident, OutboxMessage
from tests.intake.conftest import Keys, Served

CLIENT = """
import json, sys
import pagerduty
url, ca, key, given = sys.argv[1:5]
client = pagerduty.EventsApiV2Client(key, base_url=url, verify=ca)
client.send_change_event(**json.loads(given))
"""

WHEN = "2026-12-01T08:42:58.315+0000"
DEPLOY = {
    "payload": {
        "summary": "Deployed TMS 4.2.1",
        "source": "gitlab-ci",
        "timestamp": WHEN,
        "custom_details": {"build": 4711, "commit": "9f2c1e0"},
    },
    "links": [{"href": "https://ci.example/pipelines/4711", "text": "pipeline 4711"}],
}


def send(served: Served, key: str, given: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLIENT, served.url, str(served.ca), key, json.dumps(given)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def stored(store: Engine) -> list[ChangeEvent]:
    with session_scope(store) as s:
        rows = list(s.execute(select(ChangeEvent).order_by(ChangeEvent.id)).scalars())
        s.expunge_all()
    return rows


def test_it_records_the_change_on_the_keys_client_and_opens_no_incident(
    served: Served, keys: Keys, store: Engine, clock: FrozenClock
):
    sent = send(served, keys.a, DEPLOY)
    assert sent.returncode == 0, sent.stderr
    [change] = stored(store)
    assert (change.client_id, change.summary, change.source) == (
        "nordhafen",
        "Deployed TMS 4.2.1",
        "gitlab-ci",
    )
    assert change.integration == "grafana"
    assert change.at.replace(tzinfo=UTC) == datetime(2026, 12, 1, 8, 42, 58, 315000, UTC)
    assert change.details["custom_details"] == {"build": 4711, "commit": "9f2c1e0"}
    assert change.details["links"] == [
        {"href": "https://ci.example/pipelines/4711", "text": "pipeline 4711"}
    ]
    with session_scope(store) as s:
        assert s.execute(select(Incident)).first() is None, "a change is never an incident"
        assert s.execute(select(OutboxMessage)).first() is None, "and pages nobody"


def test_a_change_without_a_timestamp_is_placed_when_it_arrived(
    served: Served, keys: Keys, store: Engine, clock: FrozenClock
):
    sent = send(served, keys.b, {"payload": {"summary": "Rotated the backup key"}})
    assert sent.returncode == 0, sent.stderr
    [change] = stored(store)
    assert change.client_id == "lindqvist" and change.source == ""
    assert change.at.replace(tzinfo=UTC) == clock.now()


def test_each_clients_timeline_holds_only_its_own_changes(
    served: Served, keys: Keys, store: Engine, clock: FrozenClock
):
    assert send(served, keys.a, DEPLOY).returncode == 0
    other = {"payload": {"summary": "lindqvist's deploy", "timestamp": WHEN}}
    assert send(served, keys.b, other).returncode == 0
    since, until = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)
    with session_scope(store) as s:
        mine = [c.summary for c in changes.around(s, "nordhafen", since, until)]
        theirs = [c.summary for c in changes.around(s, "lindqvist", since, until)]
    assert (mine, theirs) == (["Deployed TMS 4.2.1"], ["lindqvist's deploy"])
    # an API token, even nordhafen's with every scope, is no routing key
    refused = send(served, keys.api, DEPLOY)
    assert refused.returncode != 0 and "invalid event" in refused.stderr
    assert len(stored(store)) == 2


def test_a_revoked_key_records_nothing(served: Served, keys: Keys, store: Engine, clock):
    from opsbinder.authorization import Principal
    from opsbinder.handover.lockdown import lock_down

    with session_scope(store) as s:
        lock_down(s, "nordhafen", clock, principal=Principal.operator("ops"))
    clock.advance(timedelta(seconds=1))
    refused = send(served, keys.a, DEPLOY)
    assert refused.returncode != 0 and "invalid event" in refused.stderr
    assert stored(store) == []


HOSTILE = [
    (b"", "malformed JSON"),
    (b"[]", "JSON object"),
    (b'{"routing_key": "k"}', "'payload' is missing"),
    (b'{"routing_key": 7, "payload": {"summary": "x"}}', "'routing_key' is missing or blank"),
    (b'{"routing_key": "k", "payload": {"summary": " "}}', "'payload.summary' is missing"),
    (b'{"routing_key": "k", "payload": {"summary": "x", "source": 5}}', "'payload.source'"),
    (
        b'{"routing_key": "k", "payload": {"summary": "x", "timestamp": "yesterday"}}',
        "'payload.timestamp' is invalid",
    ),
    (b'{"routing_key": "k", "payload": {"summary": "x"}, "links": {"href": 1}}', "'links'"),
    (b'{"routing_key": "k", "payload": {"summary": "x"}, "links": [{"text": "t"}]}', "'links'"),
    (
        b'{"routing_key": "k", "payload": {"summary": "x"}, "links": [{"href": "javascript:x"}]}',
        "http(s) 'href'",
    ),
    (b'{"routing_key": "k", "payload": {"summary": "\\ud800"}}', "surrogate"),
    (b'{"x": "' + b"a" * (600 * 1024) + b'"}', "too large"),
    (b'{"routing_key": "obi_nope", "payload": {"summary": "x"}}', "integration key"),
]


@pytest.mark.parametrize(("body", "said"), HOSTILE, ids=[s for _, s in HOSTILE])
def test_it_answers_a_bad_change_with_pagerdutys_error_never_a_500(
    served: Served, keys: Keys, store: Engine, body: bytes, said: str
):
    answer = httpx.post(
        f"{served.url}/v2/change/enqueue",
        content=body,
        timeout=60,
        verify=ssl.create_default_context(cafile=served.ca),
    )
    assert answer.status_code == 400, answer.text
    shape = answer.json()
    assert shape["status"] == "invalid event" and shape["message"] == "Event object is invalid"
    assert any(said in error for error in shape["errors"]), shape
    assert stored(store) == []


def test_it_answers_like_pagerduty(served: Served, keys: Keys, store: Engine):
    answer = httpx.post(
        f"{served.url}/v2/change/enqueue/",
        json={"routing_key": keys.a, **DEPLOY},
        timeout=60,
        verify=ssl.create_default_context(cafile=served.ca),
    )
    assert answer.status_code == 202
    assert answer.json() == {"status": "success", "message": "Change event processed"}
