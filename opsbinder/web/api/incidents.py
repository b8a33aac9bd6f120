"""/api/v1/incidents: list, read and act on incidents (the console's actions, as JSON)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.incidents import lifecycle, stakeholders, status_updates
from opsbinder.store.models import Incident
from opsbinder.web.api.answers import ACTION, READ_ONE, perform
from opsbinder.web.deps import DB, RowId, api_principal, clock_of, scoped
from opsbinder.web.schemas import (
    AssignIn,
    CommanderIn,
    DeclareIn,
    DuplicateIn,
    EventOut,
    IncidentDetail,
    IncidentOut,
    Message,
    NoteIn,
    PublicIn,
    Severity,
    SeverityIn,
    StakeholderIn,
    StakeholderOut,
    StateFilter,
    UpdateOut,
    WaitingIn,
)

router = APIRouter()
Acting = Depends(api_principal)


def detail(session: Session, incident: Incident) -> IncidentDetail:
    rows = status_updates.updates_of(session, incident.id)
    return IncidentDetail(
        **IncidentOut.of(incident).model_dump(),
        timeline=[EventOut.of(e) for e in lifecycle.events(session, incident.id)],
        updates=[UpdateOut.of(u) for u in reversed(rows)],
        chain_ok=status_updates.verify_chain(session, incident.id).ok,
    )


@router.get("/incidents", response_model=list[IncidentOut])
def list_incidents(
    client_id: str | None = Query(None, max_length=64),
    severity: Severity | None = None,
    state: StateFilter | None = None,
    limit: int = Query(100, ge=1, le=500),
    principal: Principal = scoped("incidents:read"),
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


@router.post("/incidents", response_model=IncidentOut, status_code=201, responses=ACTION)
def declare(
    request: Request,
    body: DeclareIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Declare an incident for a client; Severity-1 starts the Severity-1 process at once."""
    clock = clock_of(request)
    client_id = body.client_id or principal.client_id
    if client_id is None:
        raise HTTPException(422, "client_id: required for a token not tied to one client")

    def run(s: Session) -> IncidentOut:
        incident = actions.declare(
            s,
            clock,
            principal,
            client_id=client_id,
            severity=body.severity,
            title=body.title,
            public_title=body.public_title,
            impact=body.impact,
            dedup_key=body.dedup_key,
            component=body.component,
        )
        return IncidentOut.of(incident)

    return perform(session, run)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses=READ_ONE)
def get_incident(
    incident_id: RowId,
    principal: Principal = scoped("incidents:read"),
    session: Session = DB,
) -> IncidentDetail:
    return perform(session, lambda s: detail(s, actions.visible(s, principal, incident_id)))


def _changed(session: Session, incident_id: int, action: Callable[[Session], Any]) -> IncidentOut:
    def run(s: Session) -> IncidentOut:
        action(s)
        return IncidentOut.of(lifecycle.get(s, incident_id))

    return perform(session, run)


@router.post(
    "/incidents/{incident_id}/notes", response_model=IncidentOut, status_code=201, responses=ACTION
)
def add_note(
    request: Request,
    incident_id: RowId,
    body: NoteIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.note(s, clock, principal, incident_id, body.message),
    )


@router.post("/incidents/{incident_id}/assign", response_model=IncidentOut, responses=ACTION)
def assign(
    request: Request,
    incident_id: RowId,
    body: AssignIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.assign(s, clock, principal, incident_id, body.assignee.strip()),
    )


@router.get(
    "/incidents/{incident_id}/stakeholders", response_model=list[StakeholderOut], responses=READ_ONE
)
def list_stakeholders(
    incident_id: RowId,
    principal: Principal = scoped("incidents:read"),
    session: Session = DB,
) -> list[StakeholderOut]:
    def read(s: Session) -> list[StakeholderOut]:
        incident = actions.visible(s, principal, incident_id)
        return [
            StakeholderOut.model_validate(p, from_attributes=True)
            for p in stakeholders.stakeholders(s, incident)
        ]

    return perform(session, read)


@router.post(
    "/incidents/{incident_id}/stakeholders",
    response_model=StakeholderOut,
    status_code=201,
    responses=ACTION,
)
def add_stakeholder(
    request: Request,
    incident_id: RowId,
    body: StakeholderIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> StakeholderOut:
    clock = clock_of(request)

    def action(s: Session) -> StakeholderOut:
        person = actions.add_stakeholder(s, clock, principal, incident_id, body.contact)
        return StakeholderOut.model_validate(person, from_attributes=True)

    return perform(session, action)


@router.post("/incidents/{incident_id}/commander", response_model=IncidentOut, responses=ACTION)
def set_commander(
    request: Request,
    incident_id: RowId,
    body: CommanderIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.set_commander(s, clock, principal, incident_id, body.contact),
    )


@router.post("/incidents/{incident_id}/severity", response_model=IncidentOut, responses=ACTION)
def change_severity(
    request: Request,
    incident_id: RowId,
    body: SeverityIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Raise (to sev1: management informed, cadence running, stakeholders told) or lower."""
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.change_severity(
            s, clock, principal, incident_id, body.severity, body.reason
        ),
    )


@router.post("/incidents/{incident_id}/duplicate", response_model=IncidentOut, responses=ACTION)
def link_duplicate(
    request: Request,
    incident_id: RowId,
    body: DuplicateIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Mark this incident a duplicate of another of the same client (it is resolved)."""
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.link_duplicate(s, clock, principal, incident_id, body.primary_id),
    )


@router.post("/incidents/{incident_id}/public", response_model=IncidentOut, responses=ACTION)
def set_public(
    request: Request,
    incident_id: RowId,
    body: PublicIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Publish or change the title and state the client's status page shows."""
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.set_public(
            s, clock, principal, incident_id, title=body.public_title, state=body.public_state
        ),
    )


@router.post("/incidents/{incident_id}/waiting", response_model=IncidentOut, responses=ACTION)
def set_waiting(
    request: Request,
    incident_id: RowId,
    body: WaitingIn,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Waiting on the client (true) or not any more (false): the SLA clocks stand still."""
    clock = clock_of(request)
    return _changed(
        session,
        incident_id,
        lambda s: actions.wait_on_client(
            s, clock, principal, incident_id, waiting=body.waiting, message=body.message
        ),
    )


# last: its {verb} would otherwise take the paths of the actions above
@router.post("/incidents/{incident_id}/{verb}", response_model=IncidentOut, responses=ACTION)
def change_state(
    request: Request,
    incident_id: RowId,
    verb: Literal["acknowledge", "resolve", "reopen"],
    body: Message | None = None,
    principal: Principal = Acting,
    session: Session = DB,
) -> IncidentOut:
    """Acknowledge (you own it), resolve, or reopen (escalation starts again at level 1)."""
    clock, text = clock_of(request), body.message if body else ""
    do = {"acknowledge": actions.acknowledge, "resolve": actions.resolve, "reopen": actions.reopen}
    return _changed(
        session, incident_id, lambda s: do[verb](s, clock, principal, incident_id, text)
    )
