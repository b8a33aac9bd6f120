"""Prefect tasks of the incident sweepers: each a thin call into the core."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from opsbinder import outbox
from opsbinder.clock import SystemClock
from opsbinder.incidents import escalator, missed_runs
from opsbinder.incidents.hook_reports import replay_spool
from opsbinder.settings import get_settings
from opsbinder.store.db import default_engine


@task(name="escalate open incidents", cache_policy=NONE)
def escalate() -> dict[str, Any]:
    return asdict(escalator.sweep(default_engine(), SystemClock()))


@task(name="deliver the outbox", cache_policy=NONE)
def deliver(limit: int = 200) -> dict[str, Any]:
    return asdict(outbox.deliver_due(default_engine(), SystemClock(), limit=limit))


@task(name="replay the hook spool", cache_policy=NONE)
def replay() -> dict[str, Any]:
    return asdict(replay_spool(default_engine(), get_settings().spool, SystemClock()))


@task(name="watch for missed runs", cache_policy=NONE)
def watch_missed() -> dict[str, Any]:
    from opsbinder.orchestrator import flow_runs

    return asdict(missed_runs.watch(default_engine(), SystemClock(), orchestrator=flow_runs))
