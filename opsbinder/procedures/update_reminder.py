"""Update reminders: end-of-support dates and patch cadences from the software inventory.

Each deadline (end of support; last patched + patch cadence) gets one reminder work item for the
item's owner once it is within `remind_days_ahead`; its dedup key holds the deadline date, so a
daily run does not remind again, and a new `last_patched` in the binder makes a new deadline.
A deadline that passes while its reminder is still open becomes an incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbinder import workitems
from opsbinder.config.models import SoftwareInventory, SoftwareItem, UpdateReminderProcedure
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope


@dataclass(frozen=True)
class Deadline:
    item: SoftwareItem
    what: str  # "end of support" or "patch"
    due: date

    @property
    def title(self) -> str:
        product = f"{self.item.product} {self.item.version}"
        if self.what == "patch":
            return f"Patch {product} (due {self.due.isoformat()})"
        return f"End of support of {product} on {self.due.isoformat()}: upgrade or renew"

    def key(self, client_id: str, procedure_id: str) -> str:
        slug = f"{self.item.product}:{self.item.version}".lower().replace(" ", "-")
        return f"reminder:{client_id}/{procedure_id}:{slug}:{self.what}:{self.due.isoformat()}"


def deadlines(item: SoftwareItem) -> list[Deadline]:
    found = []
    if item.end_of_support:
        found.append(Deadline(item, "end of support", item.end_of_support))
    if item.patch_cadence and item.last_patched:
        found.append(Deadline(item, "patch", item.last_patched + item.patch_cadence))
    return found


def run(
    ctx: ProcedureContext, proc: UpdateReminderProcedure, system: SoftwareInventory | None
) -> ProcedureResult:
    if not isinstance(system, SoftwareInventory):
        reason = f"system {proc.system!r} is not a software_inventory; reminders need one"
        return ProcedureResult("failed", reason, {}, [reason])
    zone = ZoneInfo(proc.zone(ctx.timezone))
    today = ctx.clock.now().astimezone(zone).date()
    ahead = timedelta(days=proc.params.remind_days_ahead)
    due = [d for item in system.items for d in deadlines(item) if d.due - ahead <= today]
    if ctx.dry_run:
        return ProcedureResult(
            "ok",
            f"dry run: {len(due)} deadline(s) within {proc.params.remind_days_ahead} days",
            {"due": len(due)},
        )
    created: list[str] = []
    with session_scope(ctx.store) as session:
        for deadline in due:
            _item, new = workitems.create_once(
                session,
                ctx.clock,
                client_id=ctx.client_id,
                procedure_key=proc.id,
                kind="reminder",
                dedup_key=deadline.key(ctx.client_id, proc.id),
                title=deadline.title,
                # the end of the due day, in the procedure's zone
                due_at=datetime.combine(deadline.due, time(23, 59), zone),
                assignee=deadline.item.owner or proc.owner,
                steps=[f"{deadline.what}: {deadline.item.product} {deadline.item.version}"],
                actor=ctx.actor,
            )
            if new:
                created.append(deadline.title)
        overdue = workitems.escalate_overdue(
            session,
            ctx.clock,
            client_id=ctx.client_id,
            procedure_key=proc.id,
            severity=proc.severity,
        )
        still_open = len(
            workitems.open_items(session, client_id=ctx.client_id, procedure_key=proc.id)
        )
    summary = f"{len(created)} reminder(s) created, {still_open} open"
    if overdue:
        summary += f", {len(overdue)} newly overdue (incidents opened)"
    return ProcedureResult(
        "ok",
        summary,
        {
            "deadlines_due": len(due),
            "reminders_created": len(created),
            "reminders_open": still_open,
            "overdue_new": len(overdue),
        },
    )
