"""Webhooks as a receiver in the wild checks them: the `standardwebhooks` reference verifier
on a real HTTP receiver, fed through the outbox; replays and stale requests are refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import Engine, select

from opsbinder import audit, audit_anchor, outbox
from opsbinder.clock import FrozenClock
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage
from tests.notify.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"misuse-suite-key-of-32-bytes-ok!").decode()
ROUTE = {"id": "pager", "url_env": "MISUSE_HOOK_URL", "secret_env": "MISUSE_HOOK_SECRET"}


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver(secret=SECRET)  # the reference verifier, against the wall clock
    monkeypatch.setenv("MISUSE_HOOK_URL", r.url)
    monkeypatch.setenv("MISUSE_HOOK_SECRET", SECRET)
    yield r
    r.stop()


def now() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))


def enqueue(
    store: Engine, key: str, body: dict[str, object], at: FrozenClock | None = None
) -> None:
    with session_scope(store) as session:
        outbox.enqueue(
            session,
            at or now(),
            channel="webhook",
            target="pager",
            route=ROUTE,
            body=body,
            idempotency_key=key,
        )


def test_it_delivers_what_the_reference_verifier_accepts_and_refuses_a_replay(
    store: Engine, receiver: Receiver
) -> None:
    enqueue(store, "inc/7/esc/1#webhook:pager", {"title": "TMS backup missing"})
    report = outbox.deliver_due(store, now())
    assert report.delivered == 1, report.errors
    assert receiver.bad_signatures == 0
    assert receiver.accepted == {"inc/7/esc/1#webhook:pager": {"title": "TMS backup missing"}}
    headers, body = receiver.requests[0]
    assert headers["webhook-signature"].startswith("v1,")

    # the captured request, sent again as it was: the id was seen, so it is dropped
    requests.post(receiver.url, data=body, headers=headers, timeout=5)
    assert receiver.duplicates["inc/7/esc/1#webhook:pager"] == 1
    # ... and under a new id (and a new Idempotency-Key) the signature no longer matches
    forged = {**headers, "webhook-id": "replay-1", "Idempotency-Key": "replay-1"}
    answer = requests.post(receiver.url, data=body, headers=forged, timeout=5)
    assert answer.status_code == 401 and receiver.refusals == ["No matching signature found"]
    assert list(receiver.accepted) == ["inc/7/esc/1#webhook:pager"]


def test_it_is_refused_when_stale_and_keeps_its_id_across_retries(
    store: Engine, receiver: Receiver
) -> None:
    stale = FrozenClock(datetime.now(UTC) - timedelta(minutes=10))  # a request held back
    enqueue(store, "inc/8/esc/1#webhook:pager", {"title": "disk full"}, stale)
    report = outbox.deliver_due(store, stale)
    assert report.failed == 1 and "HTTP 401" in report.errors[0]
    assert receiver.refusals == ["Message timestamp too old"]
    assert outbox.deliver_due(store, now()).delivered == 1  # the retry, due by now
    ids = [h["webhook-id"] for h, _ in receiver.requests]
    stamps = [int(h["webhook-timestamp"]) for h, _ in receiver.requests]
    assert ids == ["inc/8/esc/1#webhook:pager"] * 2  # the same message, retried
    assert stamps[1] - stamps[0] >= 600  # each attempt signs its own time


def test_it_refuses_a_secret_that_is_not_a_standard_webhooks_secret(
    store: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for raw in ("hmac-key-Zq81xV0p", "whsec_c2hvcnQ=", "whsec_not base64!"):
        monkeypatch.setenv("MISUSE_HOOK_SECRET", raw)
        enqueue(store, f"raw/{raw}", {"title": "x"})
    report = outbox.deliver_due(store, now())
    assert report.failed == 3 and not receiver.posts  # nothing left the building unsigned
    with session_scope(store) as session:
        errors = session.execute(select(OutboxMessage.last_error)).scalars().all()
    assert all(
        "secret_env MISUSE_HOOK_SECRET does not hold a Standard Webhooks secret" in e
        for e in errors
    )


def test_it_sends_each_audit_anchor_to_the_receiver_as_a_signed_event(
    store: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBINDER_AUDIT_WEBHOOK_URL_ENV", "MISUSE_HOOK_URL")
    monkeypatch.setenv("OPSBINDER_AUDIT_WEBHOOK_SECRET_ENV", "MISUSE_HOOK_SECRET")
    get_settings.cache_clear()
    clock = now()
    with session_scope(store) as session:
        audit.record(session, clock, actor="lena", action="x", object_type="y", object_id="1")
    line = audit_anchor.write_anchor(store, clock).line
    assert outbox.deliver_due(store, now()).delivered == 1
    (event,) = receiver.accepted.values()
    assert event["type"] == "audit.anchor" and event["data"] == line
    kept = store_copy = get_settings().anchor_file.parent / "received.jsonl"
    store_copy.write_text(json.dumps(event["data"]) + "\n")
    sealed = audit_anchor.load(kept, audit_anchor.anchor_key(get_settings()))
    assert sealed.problems == [] and sealed.latest is not None and sealed.latest.seq == 1
