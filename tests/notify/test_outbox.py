"""The outbox against a real HTTP receiver on 127.0.0.1 that is down for a while."""

from __future__ import annotations

import base64
import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from opsbinder import outbox
from opsbinder.clock import FrozenClock, utc
from opsbinder.notify import webhook
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, OutboxMessage
from tests.notify.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"s3cret-for-tests-32-bytes-long!!").decode()
POLICY = outbox.RetryPolicy(
    base=timedelta(seconds=30), cap=timedelta(minutes=10), give_up_after=timedelta(days=2)
)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, clock: FrozenClock):  # type: ignore[no-untyped-def]
    r = Receiver(secret=SECRET, clock=clock)
    monkeypatch.setenv("TEST_HOOK_URL", r.url)
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    yield r
    r.stop()


ROUTE = {"id": "pager", "url_env": "TEST_HOOK_URL", "secret_env": "TEST_HOOK_SECRET"}


def _enqueue(store: Engine, clock: FrozenClock, n: int) -> list[str]:
    keys = []
    with session_scope(store) as s:
        for i in range(n):
            key = f"test/{i}"
            outbox.enqueue(
                s,
                clock,
                channel="webhook",
                target="pager",
                route=ROUTE,
                body={"title": f"message {i}", "n": i},
                idempotency_key=key,
            )
            keys.append(key)
    return keys


def test_it_signs_per_standard_webhooks(receiver: Receiver, monkeypatch, clock) -> None:  # type: ignore[no-untyped-def]
    webhook.send(ROUTE, {"title": "hello"}, "k1", at=clock.now())
    assert receiver.accepted == {"k1": {"title": "hello"}}
    assert receiver.bad_signatures == 0
    other = "whsec_" + base64.b64encode(b"another-key-of-thirty-two-bytes!").decode()
    monkeypatch.setenv("TEST_HOOK_SECRET", other)
    with pytest.raises(webhook.DeliveryError, match="HTTP 401"):
        webhook.send(ROUTE, {"title": "hello"}, "k2", at=clock.now())
    assert receiver.bad_signatures == 1


def test_it_refuses_to_enqueue_a_key_twice(store: Engine, clock: FrozenClock) -> None:
    _enqueue(store, clock, 2)
    assert _enqueue(store, clock, 2) == ["test/0", "test/1"]
    with session_scope(store) as s:
        assert len(s.execute(select(OutboxMessage)).scalars().all()) == 2


def test_it_delivers_everything_once_after_the_receiver_recovers(
    store: Engine, clock: FrozenClock, receiver: Receiver
) -> None:
    keys = _enqueue(store, clock, 10)
    rng = random.Random(4)
    receiver.fail_with = 500  # up, but failing
    report = outbox.deliver_due(store, clock, policy=POLICY, rng=rng)
    assert report.failed == 10 and report.delivered == 0
    receiver.fail_with = None
    receiver.stop()  # down: connection refused
    gaps = []
    for _ in range(5):
        with session_scope(store) as s:
            due = max(utc(m.next_attempt_at) for m in s.execute(select(OutboxMessage)).scalars())
        gaps.append(due - clock.now())
        clock.set(due)
        report = outbox.deliver_due(store, clock, policy=POLICY, rng=rng)
        assert report.delivered == 0
    with session_scope(store) as s:
        attempts = {m.attempts for m in s.execute(select(OutboxMessage)).scalars()}
        errors = {m.last_error[:40] for m in s.execute(select(OutboxMessage)).scalars()}
    assert attempts == {6}
    assert any("ConnectionError" in e for e in errors)
    assert gaps[-1] > gaps[0]  # backing off
    receiver.start()
    clock.advance(POLICY.cap)
    report = outbox.deliver_due(store, clock, policy=POLICY, rng=rng)
    assert report.delivered == 10
    assert set(receiver.accepted) == set(keys)
    assert sum(receiver.duplicates.values()) == 0
    assert receiver.bad_signatures == 0
    # nothing left to send
    assert outbox.deliver_due(store, clock, policy=POLICY, rng=rng).delivered == 0


def test_it_backs_off_exponentially_with_capped_jitter() -> None:
    rng = random.Random(1)
    for attempts in range(1, 12):
        d = POLICY.delay(attempts, rng).total_seconds()
        raw = min(600, 30 * 2 ** (attempts - 1))
        assert raw / 2 <= d <= raw


def test_it_lets_two_senders_deliver_each_message_once(
    store: Engine, clock: FrozenClock, receiver: Receiver
) -> None:
    keys = _enqueue(store, clock, 40)
    results = []

    def sender(name: str) -> None:
        results.append(outbox.deliver_due(store, clock, worker=name, limit=100, policy=POLICY))

    threads = [threading.Thread(target=sender, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.delivered for r in results) == 40
    assert set(receiver.accepted) == set(keys)
    assert max(receiver.posts.values()) == 1  # never POSTed twice: claims are exclusive


def test_it_takes_over_a_stale_claim(store: Engine, clock: FrozenClock, receiver: Receiver) -> None:
    _enqueue(store, clock, 1)
    assert len(outbox.claim(store, clock, "dead-worker", policy=POLICY)) == 1
    assert outbox.claim(store, clock, "other", policy=POLICY) == []
    clock.advance(POLICY.stale_claim + timedelta(seconds=1))
    report = outbox.deliver_due(store, clock, worker="other", policy=POLICY)
    assert report.delivered == 1


def test_it_gives_up_after_the_window_and_records_it(
    store: Engine, clock: FrozenClock, receiver: Receiver
) -> None:
    _enqueue(store, clock, 1)
    receiver.stop()
    rng = random.Random(2)
    policy = outbox.RetryPolicy(give_up_after=timedelta(hours=1), cap=timedelta(minutes=10))
    given_up = 0
    for _ in range(20):
        report = outbox.deliver_due(store, clock, policy=policy, rng=rng)
        given_up += report.given_up
        if given_up:
            break
        clock.advance(POLICY.cap)
    assert given_up == 1
    with session_scope(store) as s:
        message = s.execute(select(OutboxMessage)).scalar_one()
        assert message.given_up_at is not None and message.delivered_at is None
        assert s.execute(
            select(AuditEntry).where(AuditEntry.action == "outbox.given_up")
        ).scalar_one()
    clock.advance(POLICY.cap)
    assert outbox.deliver_due(store, clock, policy=POLICY).failed == 0  # no more attempts


def test_it_fails_the_attempt_when_the_secret_variable_is_missing(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEST_HOOK_SECRET")
    with pytest.raises(webhook.DeliveryError, match="TEST_HOOK_SECRET, which is not set"):
        webhook.send(ROUTE, {"title": "x"}, "k", at=datetime.now(UTC))
    assert not receiver.posts  # nothing unsigned left the building
