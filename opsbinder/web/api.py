"""The JSON API (/api/v1): the console's actions for scripts and integrations.

Bearer tokens carry scopes; a token tied to a client sees only that client's incidents,
procedures and status (anything else is a 404, exactly as if it did not exist). There is no PUT,
PATCH or DELETE: updates and timelines are append-only.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.accounts import BadInput
from opsbinder.errors import NotFound, OpsbinderError, Refused
from opsbinder.incidents import lifecycle, stakeholders, status_updates, update_cadence
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.store.models import Incident, IncidentEvent, Procedure, StatusUpdate
from opsbinder.web import oncall_view, run_now
from opsbinder.web.app import DB, RowId, clock_of
from opsbinder.web.auth import Principal, scoped, visible_incident
from opsbinder.web.status_data import status_page

router = APIRouter(prefix="/api/v1", tags=["api"])
T = TypeVar("T")
Severity = Literal["sev1", "sev2", "sev3", "sev4"]
StateFilter = Literal["triggered", "acknowledged", "resolved", "open"]


class IncidentOut(BaseModel):
    id: int
    client_id: str
    title: str
    severity: str
    state: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    assignee: str | None
    commander: str | None
    occurrences: int
    next_update_due: datetime | None

    @classmethod
    def of(cls, row: Incident) -> IncidentOut:
        return cls.model_validate(row, from_attributes=True)


class EventOut(BaseModel):
    at: datetime
    kind: str
    actor: str
    message: str

    @classmethod
    def of(cls, row: IncidentEvent) -> EventOut:
        return cls.model_validate(row, from_attributes=True)


class UpdateOut(BaseModel):
    seq: int
    posted_at: datetime
    author: str
    current_status: str
    next_steps: str
    bridge_url: str
    business_impact: str
    next_update_at: datetime
    corrects_seq: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: StatusUpdate) -> UpdateOut:
        return cls.model_validate(row, from_attributes=True)


class IncidentDetail(IncidentOut):
    timeline: list[EventOut]
    updates: list[UpdateOut]
    chain_ok: bool


class UpdatesOut(BaseModel):
    incident_id: int
    chain_ok: bool
    chain_problems: list[str]
    updates: list[UpdateOut]


class Message(BaseModel):
    message: str = Field("", max_length=5000)


class NoteIn(BaseModel):
    message: str = Field(min_length=1, max_length=5000)


class UpdateIn(BaseModel):
    current_status: str = Field(min_length=1, max_length=10000)
    next_steps: str = Field(min_length=1, max_length=10000)
    business_impact: str = Field(min_length=1, max_length=10000)
    bridge_url: str = Field("", max_length=500)
    next_update_at: datetime | None = None
    corrects_seq: int | None = Field(None, ge=1, le=1_000_000)
    force: bool = False


class ProcedureOut(BaseModel):
    id: int
    client_id: str
    key: str
    name: str
    kind: str
    cron: str
    timezone: str
    paused: bool


class Done(BaseModel):
    message: str


class StatusOut(BaseModel):
    client_id: str
    title: str
    timezone: str
    open: list[IncidentDetail]
    resolved: list[IncidentOut]
    groups: dict[str, str]


def _perform(session: Session, action: Callable[[Session], T]) -> T:
    """One action in a savepoint; domain refusals become 4xx answers (never a 500)."""
    try:
        with session.begin_nested():
            return action(session)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except (Refused, IncidentStateError) as exc:
        raise HTTPException(409, str(exc)) from exc
    except (status_updates.UpdateInvalid, BadInput) as exc:
        raise HTTPException(422, str(exc)) from exc
    except OpsbinderError as exc:
        raise HTTPException(400, str(exc)) from exc


def _detail(session: Session, incident: Incident) -> IncidentDetail:
    rows = status_updates.updates_of(session, incident.id)
    return IncidentDetail(
        **IncidentOut.of(incident).model_dump(),
        timeline=[EventOut.of(e) for e in lifecycle.events(session, incident.id)],
        updates=[UpdateOut.of(u) for u in reversed(rows)],
        chain_ok=not status_updates.chain_problems(rows),
    )


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    client_id: str | None = Query(None, max_length=64),
    severity: Severity | None = None,
    state: StateFilter | None = None,
    limit: int = Query(100, ge=1, le=500),
    principal: Principal = Depends(scoped("incidents:read")),
    session: Session = DB,
) -> list[IncidentOut]:
    if principal.client_id is not None:
        if client_id not in (None, principal.client_id):
            return []
        client_id = principal.client_id
    rows = lifecycle.list_incidents(
        session, client_id=client_id, severity=severity, state=state, limit=limit
    )
    return [IncidentOut.of(r) for r in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: RowId,
    principal: Principal = Depends(scoped("incidents:read")),
    session: Session = DB,
) -> IncidentDetail:
    return _detail(session, visible_incident(session, principal, incident_id))


def _write(
    session: Session,
    principal: Principal,
    incident_id: RowId,
    action: Callable[[Session], Any],
) -> IncidentOut:
    def run(session: Session) -> IncidentOut:
        visible_incident(session, principal, incident_id)
        action(session)
        return IncidentOut.of(lifecycle.get(session, incident_id))

    return _perform(session, run)


@router.post("/incidents/{incident_id}/acknowledge", response_model=IncidentOut)
def acknowledge(
    request: Request,
    incident_id: RowId,
    body: Message | None = None,
    principal: Principal = Depends(scoped("incidents:write")),
    session: Session = DB,
) -> IncidentOut:
    clock, text = clock_of(request), body.message if body else ""
    return _write(
        session,
        principal,
        incident_id,
        lambda s: lifecycle.acknowledge(s, clock, incident_id, actor=principal.actor, message=text),
    )


@router.post("/incidents/{incident_id}/resolve", response_model=IncidentOut)
def resolve(
    request: Request,
    incident_id: RowId,
    body: Message | None = None,
    principal: Principal = Depends(scoped("incidents:write")),
    session: Session = DB,
) -> IncidentOut:
    clock, text = clock_of(request), body.message if body else ""
    return _write(
        session,
        principal,
        incident_id,
        lambda s: lifecycle.resolve(s, clock, incident_id, actor=principal.actor, message=text),
    )


@router.post("/incidents/{incident_id}/notes", response_model=IncidentOut, status_code=201)
def add_note(
    request: Request,
    incident_id: RowId,
    body: NoteIn,
    principal: Principal = Depends(scoped("incidents:write")),
    session: Session = DB,
) -> IncidentOut:
    clock = clock_of(request)
    return _write(
        session,
        principal,
        incident_id,
        lambda s: lifecycle.add_note(
            s, clock, incident_id, actor=principal.actor, message=body.message
        ),
    )


@router.get("/incidents/{incident_id}/updates", response_model=UpdatesOut)
def list_updates(
    incident_id: RowId,
    principal: Principal = Depends(scoped("incidents:read")),
    session: Session = DB,
) -> UpdatesOut:
    visible_incident(session, principal, incident_id)
    rows = status_updates.updates_of(session, incident_id)
    problems = status_updates.chain_problems(rows)
    return UpdatesOut(
        incident_id=incident_id,
        chain_ok=not problems,
        chain_problems=problems,
        updates=[UpdateOut.of(u) for u in reversed(rows)],
    )


@router.post("/incidents/{incident_id}/updates", response_model=UpdateOut, status_code=201)
def post_update(
    request: Request,
    incident_id: RowId,
    body: UpdateIn,
    principal: Principal = Depends(scoped("updates:write")),
    session: Session = DB,
) -> UpdateOut:
    clock = clock_of(request)

    def action(session: Session) -> UpdateOut:
        visible_incident(session, principal, incident_id)
        row = status_updates.post_update(
            session,
            clock,
            incident_id,
            author=principal.actor,
            **body.model_dump(),
        )
        return UpdateOut.of(row)

    return _perform(session, action)


class StakeholderIn(BaseModel):
    contact: str = Field(
        min_length=1, max_length=64, description="a contact id of the client, or account_executive"
    )


class StakeholderOut(BaseModel):
    contact: str
    name: str
    role: str
    source: str
    account_executive: bool


@router.get("/incidents/{incident_id}/stakeholders", response_model=list[StakeholderOut])
def list_stakeholders(
    incident_id: RowId,
    principal: Principal = Depends(scoped("incidents:read")),
    session: Session = DB,
) -> list[StakeholderOut]:
    incident = visible_incident(session, principal, incident_id)
    return [
        StakeholderOut.model_validate(p, from_attributes=True)
        for p in stakeholders.stakeholders(session, incident)
    ]


@router.post(
    "/incidents/{incident_id}/stakeholders", response_model=StakeholderOut, status_code=201
)
def add_stakeholder(
    request: Request,
    incident_id: RowId,
    body: StakeholderIn,
    principal: Principal = Depends(scoped("incidents:write")),
    session: Session = DB,
) -> StakeholderOut:
    clock = clock_of(request)

    def action(s: Session) -> StakeholderOut:
        visible_incident(s, principal, incident_id)
        person = stakeholders.add_stakeholder(
            s, clock, incident_id, contact=body.contact, actor=principal.actor
        )
        return StakeholderOut.model_validate(person, from_attributes=True)

    return _perform(session, action)


class CommanderIn(BaseModel):
    contact: str = Field(min_length=1, max_length=64, description="a contact id of the client")


@router.post("/incidents/{incident_id}/commander", response_model=IncidentOut)
def set_commander(
    request: Request,
    incident_id: RowId,
    body: CommanderIn,
    principal: Principal = Depends(scoped("incidents:write")),
    session: Session = DB,
) -> IncidentOut:
    clock = clock_of(request)
    return _write(
        session,
        principal,
        incident_id,
        lambda s: update_cadence.set_commander(
            s, clock, incident_id, contact=body.contact, actor=principal.actor
        ),
    )


class OnCallOut(BaseModel):
    client: str
    client_id: str
    schedule: str
    contact: str
    name: str
    phone: str


@router.get("/oncall", response_model=list[OnCallOut])
def who_is_on_call(
    request: Request,
    principal: Principal = Depends(scoped("incidents:read")),
    session: Session = DB,
) -> list[OnCallOut]:
    rows = oncall_view.now_on_call(session, clock_of(request), principal.client_id)
    return [OnCallOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/procedures", response_model=list[ProcedureOut])
def list_procedures(
    client_id: str | None = Query(None, max_length=64),
    principal: Principal = Depends(scoped("procedures:read")),
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


@router.post("/procedures/{procedure_id}/{verb}", response_model=Done)
def procedure_action(
    request: Request,
    procedure_id: RowId,
    verb: Literal["run", "pause", "resume"],
    principal: Principal = Depends(scoped("procedures:run")),
    session: Session = DB,
) -> Done:
    clock = clock_of(request)

    def action(session: Session) -> Done:
        proc = session.get(Procedure, procedure_id)
        if proc is None or not principal.sees(proc.client_id):
            raise NotFound(f"no procedure #{procedure_id}")
        return Done(
            message=run_now.act(
                session,
                clock,
                procedure_id,
                verb,
                actor=principal.actor,
                launch=request.app.state.launcher,
            )
        )

    return _perform(session, action)


@router.get("/status/{client_id}", response_model=StatusOut)
def client_status(
    request: Request,
    client_id: str,
    principal: Principal = Depends(scoped("status:read")),
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
