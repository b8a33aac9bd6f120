"""The incident sweepers, scheduled like procedures (deployments/ runs them every minute).

Hooks record, sweepers escalate: the escalation sweeper first puts any spooled hook reports
into the store, then applies the escalation engine and delivers the outbox, so one minutely
deployment keeps the whole chain moving. Names and schedules are in flows/registry.py.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.registry import ESCALATION, MISSED_RUNS
from tasks import incidents as steps


@flow(name=ESCALATION.flow.name, description=ESCALATION.flow.description)
def escalation_sweeper() -> dict[str, Any]:
    replayed = steps.replay()
    escalated = steps.escalate()
    delivered = steps.deliver()
    return {"replayed": replayed, "escalated": escalated, "delivered": delivered}


@flow(name=MISSED_RUNS.flow.name, description=MISSED_RUNS.flow.description)
def missed_run_watch() -> dict[str, Any]:
    return steps.watch_missed()
