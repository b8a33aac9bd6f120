"""The Prefect task of the monthly evidence run: a thin call into the core."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

from opsbinder.clock import SystemClock
from opsbinder.evidence import monthly
from opsbinder.store.db import default_engine


@task(name="publish the evidence packs", cache_policy=NONE)
def publish_packs(pdf: bool) -> list[dict[str, Any]]:
    return monthly.as_dicts(monthly.publish_all(default_engine(), SystemClock(), pdf=pdf))
