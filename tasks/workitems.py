"""Prefect task of the work-item sweeper: overdue checklists and reminders become incidents."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from opsbinder import workitems
from opsbinder.clock import SystemClock
from opsbinder.store.db import default_engine, session_scope


@task(name="escalate overdue work items", cache_policy=NONE)
def escalate_overdue() -> int:
    with session_scope(default_engine()) as session:
        return len(workitems.escalate_overdue(session, SystemClock()))
