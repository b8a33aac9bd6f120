"""Sweeper: remind the commander before a Severity-1 update is due, escalate when it is overdue.

Scheduled every minute like the escalation sweeper (see deployments/); the logic is in
`opsbinder.update_cadence`, idempotent per due time, so a run that overlaps another is harmless.
"""

from __future__ import annotations

from prefect import flow

from tasks.update_cadence import enforce_update_cadence


@flow(name="update-cadence-sweeper")
def update_cadence_sweeper() -> dict[str, int]:
    return enforce_update_cadence()
