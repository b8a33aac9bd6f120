"""The Alertmanager webhook receiver, end to end with a real Alertmanager (Debian's
prometheus-alertmanager, `make alertmanager`) on loopback routing to the served app, and with
hostile payloads posted straight at it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import Engine, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Incident
from tests.intake.conftest import Keys
from tests.web.conftest import free_port

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def post(url: str, **given: Any) -> httpx.Response:
    """A busy two-core machine can take more than httpx's 5 s default to answer."""
    return httpx.post(url, timeout=60, **given)


def incidents(store: Engine) -> list[Incident]:
    with session_scope(store) as s:
        rows = list(s.execute(select(Incident).order_by(Incident.id)).scalars())
        s.expunge_all()
    return rows


def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("Alertmanager did not deliver in time")
        time.sleep(0.3)


@pytest.fixture
def alertmanager(plain: str, keys: Keys, tmp_path: Path) -> Iterator[str]:
    if not Path(BINARY).exists():
        pytest.skip("prometheus-alertmanager is not installed (make alertmanager)")
    port = free_port()
    config = {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": "opsbinder",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "opsbinder",
                "webhook_configs": [
                    {
                        "url": f"{plain}/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": keys.a}},
                    }
                ],
            }
        ],
    }
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    process = subprocess.Popen(
        [
            BINARY,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "am.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), 60)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _alert(ends: datetime | None = None, **labels: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {
            "alertname": "TmsDown",
            "severity": "critical",
            "service": "tms-db-01",
            **labels,
        },
        "annotations": {"summary": "TMS database is down"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return [alert]


def test_it_opens_on_firing_and_resolves_on_resolved(alertmanager: str, store: Engine):
    posted = post(f"{alertmanager}/api/v2/alerts", json=_alert())
    assert posted.status_code == 200, posted.text
    wait_for(lambda: len(incidents(store)) == 1)
    [incident] = incidents(store)
    assert (incident.client_id, incident.source, incident.state) == (
        "nordhafen",
        "alertmanager",
        "triggered",
    )
    assert incident.title == "TMS database is down"
    assert (incident.severity, incident.component) == ("sev1", "tms")  # the binder's route

    ended = httpx.post(
        timeout=60, url=f"{alertmanager}/api/v2/alerts", json=_alert(ends=datetime.now(UTC))
    )
    assert ended.status_code == 200, ended.text
    wait_for(lambda: incidents(store)[0].state == "resolved")
    assert incidents(store)[0].resolved_by == "alertmanager:grafana"


def _payload(status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="TmsDown"}',
        "status": status,
        "receiver": "opsbinder",
        "groupLabels": {"alertname": "TmsDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": "TmsDown", **labels},
                "annotations": {"summary": "down"},
                "fingerprint": "abc123",
            },
            {
                "status": status,
                "labels": {"alertname": "TmsDown", "instance": "2", **labels},
                "annotations": {"summary": "down too"},
                "fingerprint": "def456",
            },
        ],
    }


def test_it_takes_the_key_in_the_path_and_opens_one_incident_per_alert(
    plain: str, keys: Keys, store: Engine
):
    answer = post(f"{plain}/alertmanager/{keys.a}", json=_payload())
    assert answer.status_code == 200 and answer.json()["status"] == "success", answer.text
    assert len(incidents(store)) == 2
    post(f"{plain}/alertmanager/{keys.a}", json=_payload("resolved"))
    assert {i.state for i in incidents(store)} == {"resolved"}


def test_it_opens_one_incident_per_group_when_the_binder_says_so(
    plain: str, keys: Keys, store: Engine
):
    with session_scope(store) as s:
        client = s.get(Client, "nordhafen")
        assert client is not None
        events = {**client.definition.get("events", {}), "alertmanager": {"incident_per": "group"}}
        client.definition = {**client.definition, "events": events}
    post(f"{plain}/alertmanager/{keys.a}", json=_payload())
    assert len(incidents(store)) == 1


def test_one_clients_key_never_opens_or_resolves_another_clients_incident(
    plain: str, keys: Keys, store: Engine
):
    post(f"{plain}/alertmanager/{keys.a}", json=_payload())
    assert len(incidents(store)) == 2
    # lindqvist's key resolving the same fingerprints: nordhafen's incidents stay open
    other = post(f"{plain}/alertmanager/{keys.b}", json=_payload("resolved"))
    assert other.status_code == 200
    assert {(i.client_id, i.state) for i in incidents(store)} == {("nordhafen", "triggered")}
    # an alert labelled for nordhafen sent with lindqvist's key: refused, nothing applied
    labelled = httpx.post(
        timeout=60,
        url=f"{plain}/alertmanager",
        json=_payload(client="nordhafen"),
        headers={"Authorization": f"Bearer {keys.b}"},
    )
    assert labelled.status_code == 403 and labelled.json()["status"] == "refused"
    assert len(incidents(store)) == 2
    # an API token is no integration key, and no key is no key
    for headers in ({"Authorization": f"Bearer {keys.api}"}, {}):
        refused = httpx.post(
            timeout=60, url=f"{plain}/alertmanager", json=_payload(), headers=headers
        )
        assert refused.status_code == 401 and refused.json()["status"] == "unauthorized"
    assert len(incidents(store)) == 2


HOSTILE: list[tuple[bytes, str]] = [
    (b"", "malformed JSON"),
    (b"{}", "'version' must be"),
    (b'{"version": "4", "status": "firing", "groupKey": "g", "alerts": "x"}', "'alerts' must"),
    (
        b'{"version":"4","status":"firing","groupKey":"g","alerts":[{"status":"on","labels":[]}]}',
        "'alerts[0].status'",
    ),
    (
        b'{"version":"4","status":"firing","groupKey":"g","alerts":[{"status":"firing","labels":{"a":1}}]}',
        "'alerts[0].labels'",
    ),
    (b'{"version": "4\\u0000"}', "NUL"),
    (b'{"version": "4", "groupKey": "\\udfff"}', "surrogate"),
    (b"[" * 50_000 + b"]" * 50_000, "nested deeper"),
    (b'{"x": "' + b"a" * (1100 * 1024) + b'"}', "max"),
]


@pytest.mark.parametrize(("body", "said"), HOSTILE, ids=[s for _, s in HOSTILE])
def test_it_answers_a_bad_payload_with_400_never_a_500(
    plain: str, keys: Keys, store: Engine, body: bytes, said: str
):
    answer = post(f"{plain}/alertmanager/{keys.a}", content=body)
    assert answer.status_code == 400, answer.text
    shape = answer.json()
    assert shape["status"] == "invalid payload"
    assert any(said in error for error in shape["errors"]), shape
    assert incidents(store) == []
