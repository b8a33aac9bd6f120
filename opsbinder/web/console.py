"""The operations console: signed-in staff see incidents and procedures and act on them.

Every action is an HTML form (no JavaScript) carrying the session's CSRF token; it runs in its own
transaction, is audited with the signed-in user as actor, and redirects back with a message. A
refused action (already acknowledged, too soon for another update) writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder import accounts, audit
from opsbinder.binder_store import client_binder, procedure_config
from opsbinder.clock import utc
from opsbinder.config.schedules import next_runs
from opsbinder.errors import OpsbinderError
from opsbinder.incidents import lifecycle, stakeholders, status_updates, update_cadence
from opsbinder.store.models import Client, Incident, Procedure, Run, User
from opsbinder.web import oncall_view, run_now
from opsbinder.web.app import DB, RowId, clock_of
from opsbinder.web.auth import PAUSERS, require_staff, staff_user
from opsbinder.web.security import csrf_ok, csrf_token

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, user: User | None, **context: object) -> Response:
    flashes = request.session.pop("flash", [])
    return request.app.state.templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf": csrf_token(request.session), "flashes": flashes, **context},
        headers={"Cache-Control": "no-store"},
    )


def _flash(request: Request, kind: str, message: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def _check_csrf(request: Request, token: str) -> None:
    if not csrf_ok(request.session, token):
        raise HTTPException(403, "The form has expired or did not come from this site; reload it.")


def _act(
    request: Request, session: Session, back: str, action: Callable[[Session], str]
) -> RedirectResponse:
    """Run one action in a savepoint; a refusal rolls it back and is shown, not raised."""
    try:
        with session.begin_nested():
            message = action(session)
        _flash(request, "ok", message)
    except OpsbinderError as exc:
        _flash(request, "error", str(exc))
    return RedirectResponse(back, status_code=303)


# --- sign-in -------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Session = DB) -> Response:
    target = "/console/incidents" if staff_user(request, session) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = Query("/console/incidents")) -> Response:
    return _render(request, "login.html", None, next=_safe_next(next))


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") else "/console/incidents"


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=100),
    password: str = Form(..., max_length=500),
    csrf: str = Form(""),
    next: str = Form("/console/incidents"),
    session: Session = DB,
) -> Response:
    _check_csrf(request, csrf)
    clock = clock_of(request)
    user = accounts.authenticate(session, username, password)
    if user is None:
        audit.record(
            session,
            clock,
            actor=username[:100] or "?",
            action="user.sign_in_failed",
            object_type="user",
            object_id=username[:100],
        )
        _flash(request, "error", "Unknown user or wrong password.")
        return RedirectResponse(f"/login?next={_safe_next(next)}", status_code=303)
    request.session.clear()  # a fresh session (and CSRF token) on every sign-in
    request.session["user_id"] = user.id
    audit.record(
        session,
        clock,
        actor=user.username,
        action="user.signed_in",
        object_type="user",
        object_id=user.username,
    )
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    _check_csrf(request, csrf)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# --- incidents -----------------------------------------------------------------------------------


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
    return _render(
        request,
        "console_incidents.html",
        user,
        incidents=rows,
        clients=clients,
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
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise HTTPException(404, f"No incident #{incident_id}.")
    client = session.get(Client, incident.client_id)
    updates = status_updates.updates_of(session, incident_id)
    chain = status_updates.verify_chain(session, incident_id)
    people = stakeholders.stakeholders(session, incident)
    taken = {p.contact for p in people}
    contacts = client_binder(session, incident.client_id).contacts
    candidates = [c for c in contacts if c.id not in taken]
    staff = [c for c in contacts if c.staff]
    return _render(
        request,
        "console_incident.html",
        user,
        incident=incident,
        client=client,
        events=lifecycle.events(session, incident_id),
        updates=list(reversed(updates)),
        chain=chain,
        cadence=status_updates.cadence_of(incident),
        stakeholders=people,
        candidates=candidates,
        staff=staff,
        now=utc(clock_of(request).now()),
    )


def _incident_action(
    request: Request,
    session: Session,
    incident_id: RowId,
    csrf: str,
    action: Callable[[Session], str],
) -> RedirectResponse:
    _check_csrf(request, csrf)
    return _act(request, session, f"/console/incidents/{incident_id}", action)


@router.post("/console/incidents/{incident_id}/ack")
def ack(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    return _incident_action(
        request,
        session,
        incident_id,
        csrf,
        lambda s: (
            lifecycle.acknowledge(s, clock, incident_id, actor=user.username)
            and f"Incident #{incident_id} acknowledged."
        ),
    )


@router.post("/console/incidents/{incident_id}/resolve")
def resolve(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    message: str = Form("", max_length=5000),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    return _incident_action(
        request,
        session,
        incident_id,
        csrf,
        lambda s: (
            lifecycle.resolve(s, clock, incident_id, actor=user.username, message=message)
            and f"Incident #{incident_id} resolved."
        ),
    )


@router.post("/console/incidents/{incident_id}/note")
def note(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    message: str = Form("", max_length=5000),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    return _incident_action(
        request,
        session,
        incident_id,
        csrf,
        lambda s: (
            lifecycle.add_note(s, clock, incident_id, actor=user.username, message=message)
            and "Note added."
        ),
    )


@router.post("/console/incidents/{incident_id}/stakeholders")
def add_stakeholder(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    contact: str = Form("", max_length=64),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    return _incident_action(
        request,
        session,
        incident_id,
        csrf,
        lambda s: (
            "Added "
            + stakeholders.add_stakeholder(
                s, clock, incident_id, contact=contact, actor=user.username
            ).name
            + " as stakeholder."
        ),
    )


@router.post("/console/incidents/{incident_id}/commander")
def commander(
    request: Request,
    incident_id: RowId,
    csrf: str = Form(""),
    contact: str = Form("", max_length=64),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    return _incident_action(
        request,
        session,
        incident_id,
        csrf,
        lambda s: (
            update_cadence.set_commander(
                s, clock, incident_id, contact=contact, actor=user.username
            )
            and "Incident commander set; reminders before each update go to them."
        ),
    )


def parse_local(value: str, tz: str) -> datetime | None:
    """A datetime-local form value, meant in the client's zone; None when left empty."""
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise status_updates.UpdateInvalid(
            f"next_update_at: {value!r} is not a date and time (YYYY-MM-DDTHH:MM)"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


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
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def action(s: Session) -> str:
        incident = lifecycle.get(s, incident_id)
        tz = s.get(Client, incident.client_id).timezone  # type: ignore[union-attr]
        row = status_updates.post_update(
            s,
            clock,
            incident_id,
            author=user.username,
            current_status=current_status,
            next_steps=next_steps,
            business_impact=business_impact,
            bridge_url=bridge_url,
            next_update_at=parse_local(next_update_at, tz),
            corrects_seq=int(corrects_seq) if corrects_seq.strip().isdigit() else None,
            force=bool(force),
        )
        return f"Status update #{row.seq} posted; stakeholders are being notified."

    return _incident_action(request, session, incident_id, csrf, action)


# --- procedures ----------------------------------------------------------------------------------


@router.get("/console/procedures", response_class=HTMLResponse)
def procedure_list(
    request: Request,
    client: str = Query("", max_length=64),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    now = utc(clock_of(request).now())
    query = select(Procedure).where(Procedure.active.is_(True))
    if client:
        query = query.where(Procedure.client_id == client)
    procs = list(session.execute(query.order_by(Procedure.client_id, Procedure.key)).scalars())
    rows = []
    for proc in procs:
        last = list(
            session.execute(
                select(Run)
                .where(Run.procedure_id == proc.id)
                .order_by(Run.started_at.desc(), Run.id.desc())
                .limit(3)
            ).scalars()
        )
        try:
            upcoming = next_runs(procedure_config(proc).schedule, now, 2)
        except Exception:  # a definition the current models no longer read: show no next runs
            upcoming = []
        rows.append({"proc": proc, "last": last, "next": upcoming})
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    return _render(
        request,
        "console_procedures.html",
        user,
        rows=rows,
        clients=clients,
        client=client,
        can_pause=user.role in PAUSERS,
        run_mode=run_now.mode(),
    )


@router.post("/console/procedures/{procedure_id}/{verb}")
def procedure_action(
    request: Request,
    procedure_id: RowId,
    verb: str,
    csrf: str = Form(""),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    _check_csrf(request, csrf)
    if verb not in {"run", "pause", "resume"}:
        raise HTTPException(404, "No such action.")
    if verb != "run" and user.role not in PAUSERS:
        raise HTTPException(403, f"Role {user.role} may not pause or resume procedures.")
    clock = clock_of(request)
    return _act(
        request,
        session,
        "/console/procedures",
        lambda s: run_now.act(
            s, clock, procedure_id, verb, actor=user.username, launch=request.app.state.launcher
        ),
    )


# --- on call -------------------------------------------------------------------------------------


@router.get("/console/oncall", response_class=HTMLResponse)
def oncall(
    request: Request, user: User = Depends(require_staff), session: Session = DB
) -> Response:
    rows = oncall_view.now_on_call(session, clock_of(request))
    return _render(request, "console_oncall.html", user, rows=rows)
