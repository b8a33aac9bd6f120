"""Prefect task of the update-cadence sweeper: reminders and overdue escalation of Sev-1 updates."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from opsbinder.clock import SystemClock
from opsbinder.incidents import update_cadence
from opsbinder.store.db import default_engine


@task(name="enforce Severity-1 update cadence", cache_policy=NONE, retries=2, retry_delay_seconds=5)
def enforce_update_cadence() -> dict[str, int]:
    report = update_cadence.sweep(default_engine(), SystemClock())
    return {
        "incidents": report.incidents,
        "reminders": report.reminders,
        "overdue": report.overdue,
        "enqueued": report.enqueued,
    }
