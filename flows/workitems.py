"""Sweeper: open work items (checklists, reminders) past their due time become incidents."""

from __future__ import annotations

from prefect import flow

from flows.registry import WORK_ITEMS
from tasks.workitems import escalate_overdue


@flow(name=WORK_ITEMS.flow.name, description=WORK_ITEMS.flow.description)
def work_item_sweeper() -> int:
    return escalate_overdue()
