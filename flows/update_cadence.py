"""Sweeper: remind the commander before a Severity-1 update is due, escalate when it is overdue.

Scheduled every minute (flows/registry.py); the logic is in `opsbinder.incidents.update_cadence`,
idempotent per due time, so a run that overlaps another is harmless.
"""

from __future__ import annotations

from prefect import flow

from flows.registry import UPDATE_CADENCE
from tasks.update_cadence import enforce_update_cadence


@flow(name=UPDATE_CADENCE.flow.name, description=UPDATE_CADENCE.flow.description)
def update_cadence_sweeper() -> dict[str, int]:
    return enforce_update_cadence()
