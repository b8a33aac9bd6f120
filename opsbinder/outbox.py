"""The durable outbox: a notification is a row first, a network call later.

Rows are enqueued in the same transaction as the change that causes them (an escalation step,
a status update), so nothing is promised that is not also recorded. Senders claim rows with a
conditional UPDATE and check the row count (a second sender gets 0 and moves on); a claim older
than `stale_claim` belongs to a sender that died and can be taken over. Failures back off
exponentially with jitter, capped; after `give_up_after` the row is given up, recorded on the
row, in the audit log and on the incident's timeline.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import CursorResult, Engine, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbinder import audit, redaction
from opsbinder.clock import Clock, utc
from opsbinder.notify import DeliveryError
from opsbinder.store.db import session_scope
from opsbinder.store.models import IncidentEvent, OutboxMessage


class Sender(Protocol):
    """Sends one message or raises DeliveryError; `at` is the attempt's time (signed by
    webhooks as webhook-timestamp)."""

    def __call__(
        self, route: dict[str, Any], body: dict[str, Any], idempotency_key: str, *, at: datetime
    ) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    give_up_after: timedelta = timedelta(days=3)
    stale_claim: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Exponential in the attempts so far, capped, with "equal jitter" (half fixed, half random)."""
        raw = min(self.cap.total_seconds(), self.base.total_seconds() * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=raw / 2 + rng.uniform(0, raw / 2))


def enqueue(
    session: Session,
    clock: Clock,
    *,
    channel: str,
    target: str,
    route: dict[str, Any],
    body: dict[str, Any],
    idempotency_key: str,
    client_id: str | None = None,
    incident_id: int | None = None,
    recipient: str | None = None,
) -> OutboxMessage | None:
    """Add a message unless one with this idempotency key exists (then None)."""
    if session.execute(
        select(OutboxMessage.id).where(OutboxMessage.idempotency_key == idempotency_key)
    ).first():
        return None
    now = utc(clock.now())
    message = OutboxMessage(
        client_id=client_id,
        incident_id=incident_id,
        channel=channel,
        target=target[:500],
        recipient=recipient,
        payload={"route": route, "body": body},
        idempotency_key=idempotency_key,
        created_at=now,
        next_attempt_at=now,
        attempts=0,
        last_error="",
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # a concurrent sweeper enqueued the same key first
        return None
    return message


def sent_keys(session: Session, incident_id: int) -> set[str]:
    return sent_keys_by_incident(session, [incident_id]).get(incident_id, set())


def sent_keys_by_incident(session: Session, incident_ids: Collection[int]) -> dict[int, set[str]]:
    """Every listed incident's message keys in one query, for a pass over many incidents."""
    rows = session.execute(
        select(OutboxMessage.incident_id, OutboxMessage.idempotency_key).where(
            OutboxMessage.incident_id.in_(incident_ids)
        )
    )
    found: dict[int, set[str]] = {}
    for incident_id, key in rows:
        found.setdefault(incident_id, set()).add(key)
    return found


def _claimable(now: Any, policy: RetryPolicy) -> Any:
    return and_(
        OutboxMessage.delivered_at.is_(None),
        OutboxMessage.given_up_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(
            OutboxMessage.claimed_at.is_(None),
            OutboxMessage.claimed_at < now - policy.stale_claim,
        ),
    )


def claim(
    engine: Engine,
    clock: Clock,
    worker: str,
    *,
    limit: int = 50,
    policy: RetryPolicy | None = None,
    incident_id: int | None = None,
) -> list[int]:
    """Claim up to `limit` due messages for `worker` (only one incident's, given its id); each
    id is claimed by one worker only."""
    policy = policy or RetryPolicy()
    now = utc(clock.now())
    stmt = select(OutboxMessage.id).where(_claimable(now, policy))
    if incident_id is not None:
        stmt = stmt.where(OutboxMessage.incident_id == incident_id)
    with session_scope(engine) as session:
        candidates = list(
            session.execute(
                stmt.order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
            ).scalars()
        )
    claimed = []
    for message_id in candidates:
        with session_scope(engine) as session:
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, _claimable(now, policy))
                .values(claimed_at=now, claimed_by=worker)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                claimed.append(message_id)
    return claimed


@dataclass
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    errors: list[str] = field(default_factory=list)


def default_senders() -> dict[str, Sender]:
    from opsbinder.notify import apprise_channel, webhook

    return {"webhook": webhook.send, "apprise": apprise_channel.send}


def deliver_due(
    engine: Engine,
    clock: Clock,
    *,
    senders: dict[str, Sender] | None = None,
    worker: str | None = None,
    limit: int = 50,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    incident_id: int | None = None,
) -> DeliveryReport:
    """Claim due messages (only one incident's, given its id), send each outside any
    transaction, record the outcome."""
    senders = senders or default_senders()
    policy = policy or RetryPolicy()
    rng = rng or random.Random()
    worker = worker or f"{socket.gethostname()}:{id(rng)}"
    report = DeliveryReport()
    claimed = claim(engine, clock, worker, limit=limit, policy=policy, incident_id=incident_id)
    for message_id in claimed:
        with session_scope(engine) as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            channel, key = message.channel, message.idempotency_key
            route, body = message.payload.get("route", {}), message.payload.get("body", {})
        error = None
        try:
            sender = senders.get(channel)
            if sender is None:
                raise DeliveryError(f"no sender for channel {channel!r}")
            sender(route, body, key, at=utc(clock.now()))
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a channel bug must not stop the other messages
            error = f"{type(exc).__name__}: {exc}"
        outcome, error = _record(engine, clock, message_id, route, error, policy, rng)
        if outcome == "delivered":
            report.delivered += 1
        else:
            report.failed += 1
            report.given_up += outcome == "given_up"
            report.errors.append(f"#{message_id} {key}: {error}"[:500])
    return report


def _record(
    engine: Engine,
    clock: Clock,
    message_id: int,
    route: dict[str, Any],
    error: str | None,
    policy: RetryPolicy,
    rng: random.Random,
) -> tuple[str, str | None]:
    """Book the attempt; returns the outcome and the error as stored (secrets redacted)."""
    now = utc(clock.now())
    with session_scope(engine) as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.attempts += 1
        message.claimed_at = message.claimed_by = None
        if error is None:
            message.delivered_at, message.last_error = now, ""
            return "delivered", None
        error = redaction.for_session(session, redaction.names_in(route))(error)
        message.last_error = error[:2000]
        if now - utc(message.created_at) >= policy.give_up_after:
            message.given_up_at = now
            _record_give_up(session, clock, message)
            return "given_up", error
        message.next_attempt_at = now + policy.delay(message.attempts, rng)
        return "failed", error


def _record_give_up(session: Session, clock: Clock, message: OutboxMessage) -> None:
    text = (
        f"gave up delivering {message.channel} {message.target} to "
        f"{message.recipient or 'the channel'} after {message.attempts} attempts: "
        f"{message.last_error[:300]}"
    )
    details = {"idempotency_key": message.idempotency_key, "attempts": message.attempts}
    audit.record(
        session,
        clock,
        actor="outbox",
        action="outbox.given_up",
        object_type="outbox",
        object_id=str(message.id),
        client_id=message.client_id,
        details=details,
    )
    if message.incident_id is not None:
        session.add(
            IncidentEvent(
                incident_id=message.incident_id,
                at=utc(clock.now()),
                kind="notify_failed",
                actor="outbox",
                message=text,
                data=details,
            )
        )


def retry_now(session: Session, clock: Clock, message_id: int, actor: str) -> OutboxMessage:
    """An operator's "try again": also revives a given-up message."""
    from opsbinder.errors import NotFound, OpsbinderError

    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound(f"no outbox message #{message_id}")
    if message.delivered_at is not None:
        raise OpsbinderError(f"outbox message #{message_id} was already delivered")
    message.next_attempt_at = utc(clock.now())
    message.given_up_at = None
    message.created_at = utc(clock.now())  # a fresh give-up window
    audit.record(
        session,
        clock,
        actor=actor,
        action="outbox.retry",
        object_type="outbox",
        object_id=str(message_id),
        client_id=message.client_id,
    )
    return message
