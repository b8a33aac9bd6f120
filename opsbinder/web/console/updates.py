"""The console's Severity-1 status update form; the time of the next update is typed in the
client's zone (`opsbinder.local_time`).

A refused update is not a redirect: the incident page comes back with the form as typed, why it
was refused and, when only the policy stood in the way (too soon after the last update), when
the next one is allowed and a "Post anyway" button that sends the same text with `force`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.errors import Forbidden, OpsbinderError, Refused
from opsbinder.incidents.status_updates import TooSoon
from opsbinder.store.models import User
from opsbinder.web.console.forms import check_csrf, flash
from opsbinder.web.console.incidents import Draft, incident_view
from opsbinder.web.deps import DB, RowId, clock_of, console_principal, require_staff

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
    user: User = Depends(require_staff),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    check_csrf(request, csrf)
    clock = clock_of(request)
    typed = {
        "current_status": current_status,
        "next_steps": next_steps,
        "business_impact": business_impact,
        "bridge_url": bridge_url,
        "next_update_at": next_update_at,
        "corrects_seq": corrects_seq,
    }
    try:
        with session.begin_nested():
            incident = actions.visible(session, principal, incident_id)
            local = (
                actions.local_time_of(session, incident, next_update_at, "next_update_at")
                if next_update_at.strip()
                else None
            )
            row = actions.post_update(
                session,
                clock,
                principal,
                incident_id,
                current_status=current_status,
                next_steps=next_steps,
                business_impact=business_impact,
                bridge_url=bridge_url,
                next_update_at=local.instant if local else None,
                corrects_seq=int(corrects_seq) if corrects_seq.strip().isdigit() else None,
                force=bool(force),
            )
    except Forbidden:
        raise  # 403, audited (the app's handler and the session scope)
    except OpsbinderError as exc:
        too_soon = exc if isinstance(exc, TooSoon) else None
        draft = Draft(typed, str(exc), too_soon, forceable=isinstance(exc, Refused))
        flash(request, "error", "Update not posted; your text is kept in the form below.")
        return incident_view(request, session, user, incident_id, draft, status_code=409)
    note = f" Note: {local.note}." if local and local.note else ""
    flash(request, "ok", f"Status update #{row.seq} posted; stakeholders are being notified.{note}")
    # the form's address ends in #update-refused (the page scrolls to a refusal); "#top" here
    # keeps a redirect from inheriting it
    return RedirectResponse(f"/console/incidents/{incident_id}#top", status_code=303)
