"""A failure's first page leaves from the failure hook, not a minute later with the sweep, and
still exactly once: a real failing Prefect flow, a real receiver on 127.0.0.1 counting POSTs."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prefect import flow
from sqlalchemy import Engine, select

from flows.hooks import on_failure
from opsbinder import outbox
from opsbinder.clock import FrozenClock, SystemClock
from opsbinder.incidents import escalator, first_page, lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage
from tests.notify.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"first-page-secret-of-32-bytes!!!").decode()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    r = Receiver(secret=SECRET)
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_URL", r.url)
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_SECRET", SECRET)
    yield r
    r.stop()


@flow(name="first-page-procedure", on_failure=[on_failure])
def failing(client_id: str, procedure_id: str) -> None:
    raise RuntimeError("no dump newer than 26h in /backups/tms")


def _fail() -> None:
    state = failing(client_id="nordhafen", procedure_id="check-tms-backup", return_state=True)
    assert state.is_failed()


def _messages(store: Engine) -> list[OutboxMessage]:
    with session_scope(store) as s:
        rows = list(s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())
        s.expunge_all()
    return rows


def _sweep(store: Engine, at: datetime) -> outbox.DeliveryReport:
    """The sweep's two paging steps, as the minutely flow runs them."""
    clock = FrozenClock(at)
    escalator.sweep(store, clock)
    return outbox.deliver_due(store, clock)


@pytest.mark.prefect
def test_the_failure_hook_pages_level_one_before_any_sweep_and_the_sweep_sends_nothing_again(
    prefect_api: None, paged: Engine, receiver: Receiver
) -> None:
    _fail()
    # no sweep has run: the hook itself escalated and delivered
    assert {b["level_name"] for b in receiver.accepted.values()} == {"L1 on-call"}
    assert len(receiver.accepted) == 2  # the ops-pager target and the on-call person's webhook
    assert all(m.delivered_at is not None for m in _messages(paged))
    report = _sweep(paged, datetime.now(UTC))
    assert report.delivered == report.failed == 0
    assert set(receiver.posts.values()) == {1}  # each page POSTed once in all
    assert receiver.bad_signatures == 0


@pytest.mark.prefect
def test_a_webhook_down_at_the_first_attempt_is_retried_by_the_sweep(
    prefect_api: None, paged: Engine, receiver: Receiver
) -> None:
    receiver.stop()  # connection refused
    _fail()
    rows = _messages(paged)
    assert len(rows) == 2  # recorded: the outbox holds the page
    assert all(m.delivered_at is None and m.attempts == 1 for m in rows)
    assert all("ConnectionError" in m.last_error for m in rows)
    receiver.start()
    assert _sweep(paged, datetime.now(UTC)).delivered == 0  # backing off, as any failed attempt
    report = _sweep(paged, datetime.now(UTC) + timedelta(minutes=1))
    assert report.delivered == 2
    assert {b["level_name"] for b in receiver.accepted.values()} == {"L1 on-call"}
    assert set(receiver.posts.values()) == {1}


@pytest.mark.parametrize("round_", range(3))
def test_the_hook_and_a_sweep_racing_send_each_page_once(
    paged: Engine, receiver: Receiver, round_: int
) -> None:
    clock = SystemClock()
    ids = []
    for n in range(8):
        with session_scope(paged) as s:
            ids.append(
                lifecycle.trigger(
                    s,
                    clock,
                    client_id="nordhafen",
                    procedure_key=None,
                    dedup_key=f"nordhafen/race-{round_}-{n}",
                    title="race",
                    severity="sev2",
                    details={},
                ).id
            )
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def each_hook() -> None:
        start.wait()
        for incident_id in ids:
            first_page.page(paged, clock, incident_id)

    def sweeper() -> None:
        start.wait()
        for _ in range(4):
            escalator.sweep(paged, clock)
            outbox.deliver_due(paged, clock)

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(f,)) for f in (each_hook, sweeper, sweeper)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    outbox.deliver_due(paged, clock)  # anything a lost claim race left due
    rows = _messages(paged)
    assert len(rows) == 2 * len(ids)  # two L1 routes per incident, each enqueued once
    assert all(m.delivered_at is not None for m in rows)
    assert set(receiver.posts) == {m.idempotency_key for m in rows}
    assert set(receiver.posts.values()) == {1}  # never POSTed twice: claims are exclusive
