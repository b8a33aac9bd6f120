"""The console's forms for what a person decides about an incident: declaring one, its
severity, a duplicate's primary, and what the client sees of it (public title and state)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.errors import Forbidden, OpsbinderError
from opsbinder.web.console.forms import act, check_csrf, flash
from opsbinder.web.deps import DB, RowId, clock_of, console_principal

router = APIRouter(include_in_schema=False)


@router.post("/console/incidents")
def declare(
    request: Request,
    csrf: str = Form(""),
    client: str = Form("", max_length=64),
    severity: str = Form("", max_length=8),
    title: str = Form("", max_length=500),
    public_title: str = Form("", max_length=200),
    impact: str = Form("", max_length=5000),
    dedup_key: str = Form("", max_length=150),
    component: str = Form("", max_length=64),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    """Declare an incident; on success the browser goes to its page, else back to the list."""
    check_csrf(request, csrf)
    try:
        with session.begin_nested():
            incident = actions.declare(
                session,
                clock_of(request),
                principal,
                client_id=client,
                severity=severity,
                title=title,
                public_title=public_title,
                impact=impact,
                dedup_key=dedup_key or None,
                component=component or None,
            )
            number, started = incident.id, incident.next_update_due is not None
    except Forbidden:
        raise
    except OpsbinderError as exc:
        flash(request, "error", str(exc))
        return RedirectResponse("/console/incidents", status_code=303)
    sev1 = " Severity-1 process started: management informed, stakeholders told." if started else ""
    flash(request, "ok", f"Incident #{number} declared.{sev1}")
    return RedirectResponse(f"/console/incidents/{number}", status_code=303)


@router.post("/console/incidents/{incident_id}/severity")
def change_severity(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    severity: str = Form("", max_length=8),
    message: str = Form("", max_length=2000),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def run(s: Session) -> str:
        actions.change_severity(s, clock, principal, incident_id, severity, message)
        started = " Severity-1 process started." if severity == "sev1" else ""
        return f"Incident #{incident_id} is {severity} now.{started}"

    return act(request, session, csrf, f"/console/incidents/{incident_id}", run)


@router.post("/console/incidents/{incident_id}/duplicate")
def link_duplicate(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    primary: str = Form("", max_length=20),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def run(s: Session) -> str:
        number = primary.strip().lstrip("#")
        if not number.isdigit() or not 0 < int(number) < 2**63:
            raise OpsbinderError(f"primary: {primary!r} is not an incident number")
        actions.link_duplicate(s, clock, principal, incident_id, int(number))
        return f"Incident #{incident_id} is a duplicate of #{number} and resolved."

    return act(request, session, csrf, f"/console/incidents/{incident_id}", run)


@router.post("/console/incidents/{incident_id}/public")
def set_public(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    public_title: str = Form("", max_length=200),
    public_state: str = Form("", max_length=16),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def run(s: Session) -> str:
        incident = actions.set_public(
            s,
            clock,
            principal,
            incident_id,
            title=public_title if public_title.strip() else None,
            state=public_state or None,
        )
        return f"The client now sees: {incident.public_title} ({incident.public_state})."

    return act(request, session, csrf, f"/console/incidents/{incident_id}", run)
