"""The console's Severity-1 status update form; the time of the next update is typed in the
client's zone (`opsbinder.local_time`)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.web.console.forms import act
from opsbinder.web.deps import DB, RowId, clock_of, console_principal

router = APIRouter(include_in_schema=False)


@router.post("/console/incidents/{incident_id}/updates")
def post_update(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    current_status: str = Form("", max_length=10000),
    next_steps: str = Form("", max_length=10000),
    business_impact: str = Form("", max_length=10000),
    bridge_url: str = Form("", max_length=500),
    next_update_at: str = Form("", max_length=40),
    corrects_seq: str = Form("", max_length=10),
    force: str = Form(""),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def action(s: Session) -> str:
        incident = actions.visible(s, principal, incident_id)
        typed = (
            actions.local_time_of(s, incident, next_update_at, "next_update_at")
            if next_update_at.strip()
            else None
        )
        row = actions.post_update(
            s,
            clock,
            principal,
            incident_id,
            current_status=current_status,
            next_steps=next_steps,
            business_impact=business_impact,
            bridge_url=bridge_url,
            next_update_at=typed.instant if typed else None,
            corrects_seq=int(corrects_seq) if corrects_seq.strip().isdigit() else None,
            force=bool(force),
        )
        note = f" Note: {typed.note}." if typed and typed.note else ""
        return f"Status update #{row.seq} posted; stakeholders are being notified.{note}"

    return act(request, session, csrf, f"/console/incidents/{incident_id}", action)
