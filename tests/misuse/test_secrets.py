"""A webhook URL with a token in its query string, failing: the token must appear nowhere —
not in any table of the store, not in what the CLI prints, not in what the API answers to a
client-scoped token."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, delete, select, text

from opsbinder import outbox
from opsbinder.clock import FrozenClock
from opsbinder.incidents import escalator, lifecycle
from opsbinder.notify import DeliveryError
from opsbinder.store.db import session_scope
from opsbinder.store.models import Base, IncidentEvent, OutboxMessage
from tests.web.conftest import World

OPSBINDER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "opsbinder"
TOKEN = "SECRETtok-4f9a1c77e2"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once closed


def dump(store: Engine) -> str:
    """Every row of every table, as text."""
    out = []
    with store.connect() as conn:
        for table in Base.metadata.sorted_tables:
            out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
        version = conn.execute(text("SELECT * FROM alembic_version")).all()
    return "\n".join(out) + repr(version)


@pytest.fixture
def failing_hook(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{closed_port()}/hook?token={TOKEN}&team=ops"
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_URL", url)
    secret = "whsec_" + base64.b64encode(b"misuse-secrets-key-of-32-bytes!!").decode()
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_SECRET", secret)
    return url


def test_it_never_shows_a_token_from_a_failing_webhook_url(
    store: Engine, clock: FrozenClock, world: World, failing_hook: str, live_server: str
) -> None:
    escalator.sweep(store, clock)
    with session_scope(store) as s:
        pager = (
            s.execute(select(OutboxMessage).where(OutboxMessage.target == "ops-pager"))
            .scalars()
            .all()
        )
    assert pager, "the L1 level pages ops-pager: the test needs a message to fail"

    # proof that the failure does quote the URL: the raw error names the token
    with pytest.raises(requests.ConnectionError, match=TOKEN):
        requests.post(failing_hook, timeout=2)

    given_up = 0
    for _ in range(30):
        report = outbox.deliver_due(store, clock)
        given_up += report.given_up
        assert all(TOKEN not in e for e in report.errors)
        if given_up:
            break
        clock.advance(timedelta(hours=4))
    assert given_up
    with session_scope(store) as s:
        event = (
            s.execute(select(IncidentEvent).where(IncidentEvent.kind == "notify_failed"))
            .scalars()
            .first()
        )
        assert event is not None and "ConnectionError" in event.message
        assert "url: ${OPSBINDER_PAGER_WEBHOOK_URL}" in event.message  # named, not shown
        incident_id = event.incident_id

    assert TOKEN not in dump(store)

    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    for args in (
        ["outbox", "list", "--all"],
        ["incidents", "show", str(incident_id)],
        ["audit", "list", "--limit", "500"],
        ["history"],
    ):
        shown = subprocess.run(
            [OPSBINDER, *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert shown.returncode == 0, (args, shown.stderr)
        assert TOKEN not in shown.stdout + shown.stderr, args
        assert "Traceback" not in shown.stdout + shown.stderr

    token = world.api_a if incident_id == world.incident_a else world.api_b
    headers = {"Authorization": f"Bearer {token}"}
    for path in (f"/api/v1/incidents/{incident_id}", "/api/v1/incidents"):
        answer = requests.get(live_server + path, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        assert TOKEN not in answer.text
    detail = requests.get(live_server + f"/api/v1/incidents/{incident_id}", headers=headers)
    assert "gave up delivering" in detail.text  # the timeline was read, failure included


def test_it_redacts_a_secret_from_any_channel_error_and_any_timeline_entry(
    store: Engine, clock: FrozenClock, world: World, failing_hook: str
) -> None:
    """Each storing place redacts by itself: a channel that quotes its URL whole, and a
    timeline entry that quotes it (a note pasted from a terminal), are stored without it."""

    def quoting_sender(route: dict[str, Any], body: dict[str, Any], key: str, *, at: Any) -> None:
        raise DeliveryError(f"cannot reach {failing_hook}")

    with session_scope(store) as s:
        s.execute(delete(OutboxMessage))  # the world's Severity-1 opening paged: not this test's
        outbox.enqueue(
            s, clock, channel="webhook", target="ops-pager", idempotency_key="k",
            route={"id": "ops-pager", "url_env": "OPSBINDER_PAGER_WEBHOOK_URL"}, body={},
        )  # fmt: skip
    report = outbox.deliver_due(store, clock, senders={"webhook": quoting_sender})
    assert report.failed == 1 and TOKEN not in report.errors[0]
    with session_scope(store) as s:
        lifecycle.add_note(
            s, clock, world.incident_a, actor="lena", message=f"tried {failing_hook} by hand"
        )
    assert TOKEN not in dump(store)
    with session_scope(store) as s:
        stored = s.execute(select(OutboxMessage.last_error)).scalar_one()
        note = s.execute(
            select(IncidentEvent.message).where(IncidentEvent.kind == "note")
        ).scalar_one()
    assert stored == "cannot reach ${OPSBINDER_PAGER_WEBHOOK_URL}"
    assert note == "tried ${OPSBINDER_PAGER_WEBHOOK_URL} by hand"
