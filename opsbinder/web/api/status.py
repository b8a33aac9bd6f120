"""/api/v1/status and /api/v1/oncall: what a client's status page shows, and who is on call."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.authorization import Principal
from opsbinder.web import oncall_view
from opsbinder.web.deps import DB, clock_of, scoped
from opsbinder.web.schemas import IncidentDetail, IncidentOut, OnCallOut, StatusOut, UpdateOut
from opsbinder.web.status_data import status_page

router = APIRouter()


@router.get("/oncall", response_model=list[OnCallOut])
def who_is_on_call(
    request: Request,
    principal: Principal = scoped("incidents:read"),
    session: Session = DB,
) -> list[OnCallOut]:
    rows = oncall_view.now_on_call(session, clock_of(request), principal.client_id)
    return [OnCallOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/status/{client_id}", response_model=StatusOut)
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
        open=[
            IncidentDetail(
                **IncidentOut.of(v.incident).model_dump(),
                timeline=[],
                updates=[UpdateOut.of(u) for u in v.updates],
                chain_ok=v.chain_ok,
            )
            for v in page.open
        ],
        resolved=[IncidentOut.of(v.incident) for v in page.resolved],
        groups={g.name: g.state for g in page.groups},
    )
