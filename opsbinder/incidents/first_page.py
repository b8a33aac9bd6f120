"""The first page of an incident a failure hook has just opened: sent at once, not at the next
minutely sweep, which would page the engineer up to a minute after the failure.

Right after the hook commits the incident, it runs the sweep's own escalation step for that
incident and delivers what that enqueued, through the outbox as the sweep does: the rows are
written first, and each one is claimed with the outbox's conditional UPDATE before it is sent,
so this attempt and a sweep at the same moment never both send one message. The outbox stays
the durable path: whatever is not delivered here (a webhook down or slow, the time allowed spent)
is an ordinary failed or unclaimed row that the sweep retries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from opsbinder import outbox
from opsbinder.clock import Clock
from opsbinder.incidents import escalator
from opsbinder.notify import webhook
from opsbinder.outbox import DeliveryReport, Sender

WEBHOOK_TIMEOUT = (1.0, 3.0)
"""Connect and read timeouts of the first attempt: a receiver slower than that is the sweep's
to retry, so it holds up the end of the failed flow run by seconds, not by the usual 13."""

WITHIN = timedelta(seconds=5)
"""No message is started after this much time: the rest waits for the sweep."""


def _webhook(
    route: dict[str, Any], body: dict[str, Any], idempotency_key: str, *, at: datetime
) -> None:
    webhook.send(route, body, idempotency_key, at=at, timeout=WEBHOOK_TIMEOUT)


def senders() -> dict[str, Sender]:
    return {**outbox.default_senders(), "webhook": _webhook}


def page(
    engine: Engine,
    clock: Clock,
    incident_id: int,
    *,
    using: dict[str, Sender] | None = None,
    within: timedelta = WITHIN,
) -> DeliveryReport:
    """Escalate this one incident now and deliver its due messages, one claim at a time (so
    nothing is left claimed, and blocked for the sweep, when the time is up)."""
    escalator.escalate(engine, clock, incident_id)
    using = using or senders()
    deadline = clock.now() + within
    report = DeliveryReport()
    while clock.now() < deadline:
        one = outbox.deliver_due(engine, clock, senders=using, limit=1, incident_id=incident_id)
        if not (one.delivered or one.failed):
            break
        report.delivered += one.delivered
        report.failed += one.failed
        report.given_up += one.given_up
        report.errors += one.errors
    return report
