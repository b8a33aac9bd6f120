"""/api/v1/incidents/{id}/updates: Severity-1 status updates, append-only and hash-chained."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.incidents import status_updates
from opsbinder.web.api.answers import ACTION, READ_ONE, perform
from opsbinder.web.deps import DB, RowId, api_principal, clock_of, scoped
from opsbinder.web.schemas import UpdateIn, UpdateOut, UpdatesOut

router = APIRouter()


@router.get("/incidents/{incident_id}/updates", response_model=UpdatesOut, responses=READ_ONE)
def list_updates(
    incident_id: RowId,
    principal: Principal = scoped("incidents:read"),
    session: Session = DB,
) -> UpdatesOut:
    def read(s: Session) -> UpdatesOut:
        actions.visible(s, principal, incident_id)
        rows = status_updates.updates_of(s, incident_id)
        problems = status_updates.verify_chain(s, incident_id).problems
        return UpdatesOut(
            incident_id=incident_id,
            chain_ok=not problems,
            chain_problems=problems,
            updates=[UpdateOut.of(u) for u in reversed(rows)],
        )

    return perform(session, read)


@router.post(
    "/incidents/{incident_id}/updates", response_model=UpdateOut, status_code=201, responses=ACTION
)
def post_update(
    request: Request,
    incident_id: RowId,
    body: UpdateIn,
    principal: Principal = Depends(api_principal),
    session: Session = DB,
) -> UpdateOut:
    clock = clock_of(request)
    return perform(
        session,
        lambda s: UpdateOut.of(
            actions.post_update(s, clock, principal, incident_id, **body.model_dump())
        ),
    )
