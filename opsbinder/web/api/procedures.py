"""/api/v1/procedures: list a client's procedures; run now, pause and resume one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.actions import procedures as actions
from opsbinder.authorization import Principal
from opsbinder.store.models import Procedure
from opsbinder.web.api.answers import ACTION, perform
from opsbinder.web.deps import DB, RowId, api_principal, clock_of, launcher_of, scoped
from opsbinder.web.schemas import Done, ProcedureOut

router = APIRouter()


@router.get("/procedures", response_model=list[ProcedureOut])
def list_procedures(
    client_id: str | None = Query(None, max_length=64),
    principal: Principal = scoped("procedures:read"),
    session: Session = DB,
) -> list[ProcedureOut]:
    if principal.client_id is not None:
        if client_id not in (None, principal.client_id):
            return []
        client_id = principal.client_id
    query = select(Procedure).where(Procedure.active.is_(True))
    if client_id:
        query = query.where(Procedure.client_id == client_id)
    rows = session.execute(query.order_by(Procedure.client_id, Procedure.key)).scalars()
    return [ProcedureOut.model_validate(r, from_attributes=True) for r in rows]


@router.post("/procedures/{procedure_id}/{verb}", response_model=Done, responses=ACTION)
def procedure_action(
    request: Request,
    procedure_id: RowId,
    verb: Literal["run", "pause", "resume"],
    principal: Principal = Depends(api_principal),
    session: Session = DB,
) -> Done:
    clock, launch = clock_of(request), launcher_of(request)

    def action(s: Session) -> Done:
        if verb == "run":
            return Done(message=actions.run_now(s, clock, principal, procedure_id, launch))
        return Done(
            message=actions.pause_procedure(s, clock, principal, procedure_id, verb == "pause")
        )

    return perform(session, action)
