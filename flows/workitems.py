"""Sweeper: open work items (checklists, reminders) past their due time become incidents."""

from __future__ import annotations

from prefect import flow

from tasks.workitems import escalate_overdue


@flow(name="work-item-sweeper")
def work_item_sweeper() -> int:
    return escalate_overdue()
