"""The outbox's promises at their edges: a message is given up exactly when its window ends,
not an attempt earlier or later."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from opsbinder import outbox
from opsbinder.clock import FrozenClock
from opsbinder.notify import DeliveryError
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage

POLICY = outbox.RetryPolicy(
    base=timedelta(seconds=30), cap=timedelta(minutes=10), give_up_after=timedelta(hours=2)
)


def failing(route: dict[str, Any], body: dict[str, Any], key: str, *, at: Any) -> None:
    raise DeliveryError("receiver down")


def test_it_gives_up_exactly_when_the_window_ends(store: Engine, clock: FrozenClock) -> None:
    with session_scope(store) as s:
        outbox.enqueue(
            s, clock, channel="webhook", target="pager", route={}, body={},
            idempotency_key="edge",
        )  # fmt: skip
    start = clock.now()
    senders = {"webhook": failing}

    def attempt_at(at: Any) -> outbox.DeliveryReport:
        with session_scope(store) as s:  # due now, whatever the backoff said
            s.execute(select(OutboxMessage)).scalar_one().next_attempt_at = at
        return outbox.deliver_due(
            store, FrozenClock(at), senders=senders, policy=POLICY, rng=random.Random(1)
        )

    early = attempt_at(start + POLICY.give_up_after - timedelta(seconds=1))
    assert early.failed == 1 and early.given_up == 0
    on_time = attempt_at(start + POLICY.give_up_after)
    assert on_time.given_up == 1
    with session_scope(store) as s:
        assert s.execute(select(OutboxMessage.given_up_at)).scalar_one() is not None
