"""The Prefect tasks of the daily housekeeping: thin calls into the core and the adapter."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from opsbinder import housekeeping
from opsbinder.clock import SystemClock
from opsbinder.orchestrator.housekeeping import trim_prefect
from opsbinder.store.db import default_engine


@task(name="trim the store", cache_policy=NONE)
def trim_store(dry_run: bool, approve: bool) -> dict[str, Any]:
    return housekeeping.trim_store(
        default_engine(), SystemClock(), dry_run=dry_run, approve=approve
    ).as_dict()


@task(name="trim Prefect's database", cache_policy=NONE, retries=2, retry_delay_seconds=30)
def trim_prefect_runs(dry_run: bool) -> dict[str, Any]:
    trimmed = asdict(trim_prefect(SystemClock().now(), dry_run=dry_run))
    return {**trimmed, "cutoff": trimmed["cutoff"].isoformat()}
