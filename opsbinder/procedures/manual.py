"""Manual checklist: a due work item with the runbook's steps for the owner to sign off.

One checklist per procedure and local day (a re-run the same day does not make a second one);
`opsbinder done PROCEDURE --note ...` signs it off; past its deadline it becomes an incident,
here on the next run and every minute by the work-item sweeper.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from opsbinder import workitems
from opsbinder.config.models import ManualProcedure
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope


def run(ctx: ProcedureContext, proc: ManualProcedure, system: object = None) -> ProcedureResult:
    now = ctx.clock.now()
    day = now.astimezone(ZoneInfo(proc.zone(ctx.timezone))).date().isoformat()
    due = now + proc.params.deadline
    key = f"checklist:{ctx.client_id}/{proc.id}:{day}"
    if ctx.dry_run:
        return ProcedureResult(
            "ok",
            f"dry run: would ask {proc.owner} to sign off {len(proc.runbook.steps)} steps "
            f"by {due:%Y-%m-%d %H:%M} UTC",
            {"steps": len(proc.runbook.steps)},
        )
    with session_scope(ctx.store) as session:
        item, created = workitems.create_once(
            session,
            ctx.clock,
            client_id=ctx.client_id,
            procedure_key=proc.id,
            kind="checklist",
            dedup_key=key,
            title=proc.name,
            due_at=due,
            assignee=proc.owner,
            steps=list(proc.runbook.steps),
            actor=ctx.actor,
        )
        overdue = workitems.escalate_overdue(
            session, ctx.clock, client_id=ctx.client_id, procedure_key=proc.id
        )
        open_count = len(
            workitems.open_items(session, client_id=ctx.client_id, procedure_key=proc.id)
        )
        item_id, due_at = item.id, item.due_at
    verb = "created" if created else "already open"
    summary = (
        f"checklist #{item_id} {verb} for {proc.owner}: {len(proc.runbook.steps)} steps, "
        f"due {due_at:%Y-%m-%d %H:%M} UTC"
    )
    if overdue:
        summary += f"; {len(overdue)} overdue checklist(s) now incidents"
    return ProcedureResult(
        "ok",
        summary,
        {"work_item": item_id, "created": created, "open": open_count, "overdue": len(overdue)},
    )
