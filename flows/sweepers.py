"""The incident sweepers, scheduled like procedures (deployments/ runs them every minute).

Hooks record, sweepers escalate: the escalation sweeper first puts any spooled hook reports
into the store, then applies the escalation engine and delivers the outbox, so one minutely
deployment keeps the whole chain moving. The others exist to be scheduled on their own.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from tasks import incidents as steps


@flow(name="escalation-sweeper")
def escalation_sweeper() -> dict[str, Any]:
    replayed = steps.replay()
    escalated = steps.escalate()
    delivered = steps.deliver()
    return {"replayed": replayed, "escalated": escalated, "delivered": delivered}


@flow(name="outbox-delivery")
def outbox_delivery() -> dict[str, Any]:
    return steps.deliver()


@flow(name="spool-replay")
def spool_replay() -> dict[str, Any]:
    return steps.replay()


@flow(name="missed-run-watch")
def missed_run_watch() -> dict[str, Any]:
    return steps.watch_missed()


# What deployments/ schedules every minute. The escalation sweeper already replays the spool
# and delivers the outbox, so outbox_delivery and spool_replay are for running by hand.
SWEEPER_ENTRYPOINTS = {
    "escalation": "flows/sweepers.py:escalation_sweeper",
    "missed-runs": "flows/sweepers.py:missed_run_watch",
}
