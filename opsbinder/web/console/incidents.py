"""The console's incidents: the list, one incident's page, and the forms that act on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder import changes
from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, utc
from opsbinder.incidents import duplicates, lifecycle, public, stakeholders, status_updates, waits
from opsbinder.incidents.sla_terms import clocks_of
from opsbinder.store.models import Client, Incident, User
from opsbinder.web.console.briefing import briefing
from opsbinder.web.console.forms import act, render
from opsbinder.web.deps import DB, RowId, clock_of, console_principal, require_staff

router = APIRouter(include_in_schema=False)
CHANGES_BEFORE = timedelta(days=1)  # what changed just before is the first suspect


@router.get("/console/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    client: str = Query("", max_length=64),
    severity: str = Query("", max_length=8),
    state: str = Query("open", max_length=16),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    severity = severity if severity in lifecycle.SEVERITIES else ""
    state = state if state in (*lifecycle.STATES, "open", "all") else "open"
    rows = lifecycle.list_incidents(
        session,
        client_id=client or None,
        severity=severity or None,
        state=None if state == "all" else state,
    )
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    return render(
        request,
        "console_incidents.html",
        user,
        incidents=rows,
        clients=clients,
        client_zones={c.id: c.timezone for c in clients},
        filters={"client": client, "severity": severity, "state": state},
        severities=lifecycle.SEVERITIES,
        states=(*lifecycle.STATES, "open", "all"),
    )


@router.get("/console/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request,
    incident_id: RowId,
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    return incident_view(request, session, user, incident_id)


@dataclass(frozen=True)
class Draft:
    """An update form that was refused, shown again as typed, with why it was refused."""

    fields: dict[str, str]
    error: str
    too_soon: status_updates.TooSoon | None = None
    forceable: bool = False  # the policy refused it: "Post anyway" overrides


def incident_view(
    request: Request,
    session: Session,
    user: User,
    incident_id: int,
    draft: Draft | None = None,
    status_code: int = 200,
) -> Response:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"No incident #{incident_id}.")
    client = session.get(Client, incident.client_id)
    updates = status_updates.updates_of(session, incident_id)
    chain = status_updates.verify_chain(session, incident_id)
    people = stakeholders.stakeholders(session, incident)
    taken = {p.contact for p in people}
    cb = client_binder(session, incident.client_id)
    contacts = cb.contacts
    now = utc(clock_of(request).now())
    return render(
        request,
        "console_incident.html",
        user,
        status_code=status_code,
        incident=incident,
        client=client,
        events=lifecycle.events(session, incident_id),
        updates=list(reversed(updates)),
        chain=chain,
        cadence=status_updates.cadence_rule(incident),
        severities=lifecycle.SEVERITIES,
        public_states=public.PUBLIC_STATES,
        duplicates=duplicates.duplicates_of(session, incident_id),
        stakeholders=people,
        candidates=[c for c in contacts if c.id not in taken],
        staff=[c for c in contacts if c.staff],
        now=now,
        clocks=clocks_of(session, incident, cb.contract, cb.client.timezone, now),
        waiting=waits.open_wait(session, incident_id),
        draft=draft,
        briefing=briefing(session, incident),
        changes=changes.around(
            session,
            incident.client_id,
            utc(incident.opened_at) - CHANGES_BEFORE,
            utc(incident.resolved_at) if incident.resolved_at else now,
        ),
    )


Verb = Literal[
    "ack", "resolve", "reopen", "note", "assign", "stakeholders", "commander", "wait", "unwait"
]


@dataclass(frozen=True)
class Posted:
    """What a form posts: one free-text field besides the CSRF token, each bounded."""

    message: str
    assignee: str
    contact: str


def _done(verb: Verb, s: Session, clock: Clock, who: Principal, number: int, form: Posted) -> str:
    """Do the action of one incident form; the sentence the page shows afterwards."""
    if verb == "ack":
        actions.acknowledge(s, clock, who, number)
        return f"Incident #{number} acknowledged."
    if verb == "resolve":
        actions.resolve(s, clock, who, number, form.message)
        return f"Incident #{number} resolved."
    if verb == "reopen":
        actions.reopen(s, clock, who, number, form.message)
        return f"Incident #{number} reopened; escalation starts again from level 1."
    if verb == "note":
        actions.note(s, clock, who, number, form.message)
        return "Note added."
    if verb == "assign":
        actions.assign(s, clock, who, number, form.assignee)
        return f"Incident #{number} assigned to {form.assignee}."
    if verb in ("wait", "unwait"):
        waiting = verb == "wait"
        actions.wait_on_client(s, clock, who, number, waiting=waiting, message=form.message)
        return (
            f"Incident #{number} waits on the client; SLA clocks stand still."
            if waiting
            else f"Incident #{number} no longer waits on the client; SLA clocks run again."
        )
    if verb == "stakeholders":
        person = actions.add_stakeholder(s, clock, who, number, form.contact)
        return f"Added {person.name} as stakeholder."
    actions.set_commander(s, clock, who, number, form.contact)
    return "Incident commander set; reminders before each update go to them."


@router.post("/console/incidents/{incident_id}/{verb}")
def incident_action(
    request: Request,
    incident_id: RowId,
    verb: Verb,
    csrf: str = Form(""),
    message: str = Form("", max_length=5000),
    assignee: str = Form("", max_length=100),
    contact: str = Form("", max_length=64),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    """Acknowledge, resolve, reopen, note, assign, wait on the client (or stop), add a
    stakeholder, name the commander."""
    clock, form = clock_of(request), Posted(message, assignee.strip(), contact)
    return act(
        request,
        session,
        csrf,
        f"/console/incidents/{incident_id}",
        lambda s: _done(verb, s, clock, principal, incident_id, form),
    )
