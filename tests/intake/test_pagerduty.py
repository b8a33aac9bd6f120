"""PagerDuty Events v2, driven by PagerDuty's own Python client (`pagerduty`) in a subprocess
against the served app: what Grafana, Zabbix or Uptime Kuma do once their URL is changed."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import escalator, lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage
from tests.intake.conftest import Keys, Served

CLIENT = """
import json, sys
import pagerduty
url, ca, key, action, arg = sys.argv[1:6]
client = pagerduty.EventsApiV2Client(key, base_url=url, verify=ca)
if action == "trigger":
    given = json.loads(arg)
    print(client.trigger(**given))
else:
    print(getattr(client, action)(arg))
"""


def post(url: str, **given: Any) -> httpx.Response:
    """A busy two-core machine can take more than httpx's 5 s default to answer."""
    return httpx.post(url, timeout=60, **given)


def pd(served: Served, key: str, action: str, arg: object) -> subprocess.CompletedProcess[str]:
    text = json.dumps(arg) if action == "trigger" else str(arg)
    return subprocess.run(
        [sys.executable, "-c", CLIENT, served.url, str(served.ca), key, action, text],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def incidents(store: Engine) -> list[Incident]:
    with session_scope(store) as s:
        rows = list(s.execute(select(Incident).order_by(Incident.id)).scalars())
        s.expunge_all()
    return rows


def kinds(store: Engine, incident_id: int) -> list[str]:
    with session_scope(store) as s:
        return [e.kind for e in lifecycle.events(s, incident_id)]


TRIGGER = {
    "summary": "TMS database down",
    "source": "tms-db-01",
    "severity": "critical",
    "dedup_key": "tms-db-down",
    "custom_details": {"ping": "timeout"},
}


def test_it_opens_escalates_dedups_acknowledges_and_resolves(
    served: Served, keys: Keys, store: Engine, clock: FrozenClock
):
    sent = pd(served, keys.a, "trigger", TRIGGER)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "tms-db-down"
    [incident] = incidents(store)
    assert (incident.client_id, incident.source, incident.state) == (
        "nordhafen",
        "pagerduty",
        "triggered",
    )
    assert (incident.severity, incident.title) == ("sev1", "TMS database down")
    assert incident.details["custom_details"] == {"ping": "timeout"}
    assert incident.policy_snapshot  # the client's policy, frozen like any incident's

    clock.advance(timedelta(minutes=1))
    escalator.sweep(store, clock)
    with session_scope(store) as s:
        paged = s.execute(
            select(OutboxMessage).where(OutboxMessage.incident_id == incident.id)
        ).scalars()
        assert list(paged), "an event-opened incident escalates like any other"

    again = pd(served, keys.a, "trigger", TRIGGER)
    assert again.returncode == 0, again.stderr
    [same] = incidents(store)
    assert same.id == incident.id and same.occurrences == 2

    acked = pd(served, keys.a, "acknowledge", "tms-db-down")
    assert acked.returncode == 0 and acked.stdout.strip() == "tms-db-down", acked.stderr
    assert incidents(store)[0].state == "acknowledged"
    resolved = pd(served, keys.a, "resolve", "tms-db-down")
    assert resolved.returncode == 0, resolved.stderr
    [done] = incidents(store)
    assert done.state == "resolved" and done.resolved_by == "pagerduty:grafana"
    assert kinds(store, done.id)[:1] == ["triggered"]
    assert {"occurrence", "acknowledged", "resolved"} <= set(kinds(store, done.id))


def test_it_generates_a_dedup_key_when_a_trigger_has_none(served: Served, keys: Keys, store):
    given = {k: v for k, v in TRIGGER.items() if k != "dedup_key"}
    sent = pd(served, keys.a, "trigger", given)
    assert sent.returncode == 0, sent.stderr
    generated = sent.stdout.strip()
    assert len(generated) == 32
    assert incidents(store)[0].details["dedup_key"] == generated


def test_one_clients_key_never_touches_another_clients_incident(
    served: Served, keys: Keys, store: Engine
):
    assert pd(served, keys.a, "trigger", TRIGGER).returncode == 0
    # the same dedup key under lindqvist's key: its own incident, and nordhafen's stays open
    assert pd(served, keys.b, "resolve", "tms-db-down").returncode == 0
    assert pd(served, keys.b, "acknowledge", "tms-db-down").returncode == 0
    [a] = incidents(store)
    assert a.state == "triggered" and a.client_id == "nordhafen"
    assert pd(served, keys.b, "trigger", TRIGGER).returncode == 0
    a, b = incidents(store)
    assert (a.client_id, b.client_id) == ("nordhafen", "lindqvist") and a.id != b.id
    assert a.occurrences == 1
    # an API token (even nordhafen's own, with every scope) is not a routing key
    refused = pd(served, keys.api, "trigger", TRIGGER)
    assert refused.returncode != 0 and "invalid event" in refused.stderr


def test_it_maps_severity_component_and_routes_by_the_binder(served: Served, keys: Keys, store):
    warn = {**TRIGGER, "severity": "warning", "payload": {"component": "tms-db-01"}}
    warn["dedup_key"] = "w"
    assert pd(served, keys.a, "trigger", warn).returncode == 0
    dropped = {**TRIGGER, "source": "tms-test-02", "dedup_key": "t"}
    assert pd(served, keys.a, "trigger", dropped).returncode == 0
    [incident] = incidents(store)  # the test host's event took no incident (route: drop)
    assert (incident.severity, incident.component) == ("sev3", "tms")


HOSTILE = [
    (b"", "malformed JSON"),
    (b"[]", "JSON object"),
    (b'{"routing_key": 5, "event_action": "trigger"}', "'routing_key' is missing or blank"),
    (b'{"routing_key": "k", "event_action": "explode"}', "'event_action' is invalid"),
    (b'{"routing_key": "k", "event_action": "resolve"}', "'dedup_key' is missing or blank"),
    (b'{"routing_key": "k", "event_action": "trigger", "payload": []}', "'payload' is missing"),
    (
        b'{"routing_key":"k","event_action":"trigger","payload":{"summary":1,"source":"s",'
        b'"severity":"fatal"}}',
        "'payload.severity' is invalid",
    ),
    (b'{"routing_key": "k\\u0000", "event_action": "trigger"}', "NUL"),
    (b"\xff\xfe", "UTF-8"),
    (
        b'{"routing_key": "k", "event_action": "trigger", "payload": {"summary": "\\ud800"}}',
        "surrogate",
    ),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    (b'{"x": "' + b"a" * (600 * 1024) + b'"}', "too large"),
    (
        b'{"routing_key": "k", "event_action": "acknowledge", "dedup_key": "' + b"d" * 300 + b'"}',
        "'dedup_key' is too long",
    ),
]


@pytest.mark.parametrize(("body", "said"), HOSTILE, ids=[s for _, s in HOSTILE])
def test_it_answers_a_bad_event_with_pagerdutys_error_never_a_500(
    served: Served, keys: Keys, store, body: bytes, said: str
):
    answer = httpx.post(
        timeout=60,
        url=f"{served.url}/v2/enqueue",
        content=body,
        verify=ssl.create_default_context(cafile=served.ca),
    )
    assert answer.status_code == 400, answer.text
    shape = answer.json()
    assert shape["status"] == "invalid event" and shape["message"] == "Event object is invalid"
    assert any(said in error for error in shape["errors"]), shape
    assert incidents(store) == []


def test_it_refuses_an_unknown_or_revoked_key(served: Served, keys: Keys, store):
    event = {"routing_key": "obi_" + "0" * 28, "event_action": "trigger", "payload": {
        "summary": "x", "source": "y", "severity": "info"}}  # fmt: skip
    answer = httpx.post(
        timeout=60,
        url=f"{served.url}/v2/enqueue/",
        json=event,
        verify=ssl.create_default_context(cafile=served.ca),
    )
    assert answer.status_code == 400 and "integration key" in answer.json()["errors"][0]
    event["routing_key"] = keys.a
    ok = httpx.post(
        timeout=60,
        url=f"{served.url}/v2/enqueue/",
        json=event,
        verify=ssl.create_default_context(cafile=served.ca),
    )
    assert ok.status_code == 202 and ok.json()["status"] == "success"
    assert len(incidents(store)) == 1


def test_a_lockdown_revokes_the_clients_integration_keys(
    served: Served, keys: Keys, store: Engine, clock: FrozenClock
):
    from opsbinder.authorization import Principal
    from opsbinder.handover.lockdown import lock_down

    assert pd(served, keys.a, "trigger", TRIGGER).returncode == 0
    with session_scope(store) as s:
        done = lock_down(s, "nordhafen", clock, principal=Principal.operator("ops"))
    assert any(prefix == keys.a[:12] for prefix in done.revoked)
    refused = pd(served, keys.a, "resolve", "tms-db-down")
    assert refused.returncode != 0 and "invalid event" in refused.stderr
    assert incidents(store)[0].state == "triggered"
    assert pd(served, keys.b, "trigger", TRIGGER).returncode == 0  # lindqvist's key still works
