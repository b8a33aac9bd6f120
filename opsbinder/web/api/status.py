"""/api/v1/status and /api/v1/oncall: what a client's status page shows, and who is on call.

A client's own status-page token may read /api/v1/status: it answers the public view only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.actions.incidents import SUPPORT_TEAM
from opsbinder.authorization import Principal
from opsbinder.web import oncall_view
from opsbinder.web.api.answers import READ_ONE
from opsbinder.web.deps import DB, clock_of, scoped
from opsbinder.web.schemas import (
    ComponentOut,
    OnCallOut,
    PublicIncidentOut,
    PublicUpdateOut,
    StatusOut,
)
from opsbinder.web.status_data import IncidentView, status_page

router = APIRouter()


@router.get("/oncall", response_model=list[OnCallOut])
def who_is_on_call(
    request: Request,
    principal: Principal = scoped("incidents:read"),
    session: Session = DB,
) -> list[OnCallOut]:
    rows = oncall_view.now_on_call(session, clock_of(request), principal.client_id)
    return [OnCallOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/status/{client_id}", response_model=StatusOut, responses=READ_ONE)
def client_status(
    request: Request,
    client_id: str,
    principal: Principal = scoped("status:read"),
    session: Session = DB,
) -> StatusOut:
    page = status_page(session, clock_of(request), client_id) if principal.sees(client_id) else None
    if page is None:
        raise HTTPException(404, "no such status page")
    return StatusOut(
        client_id=client_id,
        title=page.title,
        timezone=page.client.timezone,
        components=[
            ComponentOut(id=c.id, name=c.name, level=c.level, status=c.word)
            for c in page.components
        ],
        open=[public_incident(v) for v in page.open],
        resolved=[public_incident(v) for v in page.resolved],
        groups={g.name: g.state for g in page.groups},
    )


def public_incident(view: IncidentView) -> PublicIncidentOut:
    incident = view.incident
    return PublicIncidentOut(
        id=incident.id,
        title=view.title,
        state=incident.public_state,
        severity=incident.severity,
        component=view.component,
        opened_at=incident.opened_at,
        resolved_at=incident.resolved_at,
        next_update_at=view.next_update_at,
        updates=[
            PublicUpdateOut(
                seq=u.seq,
                posted_at=u.posted_at,
                author=u.author_name or SUPPORT_TEAM,
                current_status=u.current_status,
                next_steps=u.next_steps,
                bridge_url=u.bridge_url,
                business_impact=u.business_impact,
                next_update_at=u.next_update_at,
                corrects_seq=u.corrects_seq,
            )
            for u in view.updates
        ],
        chain_ok=view.chain_ok,
    )
