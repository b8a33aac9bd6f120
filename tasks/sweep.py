"""The Prefect task of every sweep step: a thin call into `opsbinder.sweep`."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from opsbinder import sweep
from opsbinder.clock import SystemClock
from opsbinder.orchestrator import flow_runs
from opsbinder.store.db import default_engine


@task(name="sweep step", cache_policy=NONE, retry_delay_seconds=5)
def sweep_step(name: str) -> dict[str, Any]:
    """One step, with Prefect's flow runs at hand for the missed-run watch."""
    return sweep.step(name).does(default_engine(), SystemClock(), flow_runs)
