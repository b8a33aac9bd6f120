"""The console's heartbeats and integration keys: what the MSP's monitoring sends opsbinder.

Heartbeats are read-only here: each job's state (its last ping, an open incident), its last
pings and each ping's body as kept (its log). Integration keys are listed with when they were
made and last used; issuing one shows the key on that one answer and never again (only its
hash is stored), revoking one refuses its events from then on. Both go through
`opsbinder.actions.integrations`, as the CLI does, so the one rule decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.actions import integrations as actions
from opsbinder.authorization import MAY, Action, Principal
from opsbinder.config.models import Heartbeat
from opsbinder.errors import Forbidden, OpsbinderError
from opsbinder.incidents.heartbeats import beats_of, open_incident, pings
from opsbinder.settings import get_settings
from opsbinder.store.models import Client, HeartbeatPing, Incident, User
from opsbinder.web.console.forms import act, check_csrf, flash, render
from opsbinder.web.deps import DB, RowId, clock_of, console_principal, require_staff

router = APIRouter(include_in_schema=False)
LAST = 5  # pings shown per heartbeat in the list


@dataclass
class BeatView:
    client: Client
    beat: Heartbeat
    last: list[HeartbeatPing]
    incident: Incident | None

    @property
    def status(self) -> str:
        """ok, running, failing, missed or waiting (no ping yet), in the list's words."""
        if self.incident is not None:
            return "missed" if self.incident.details.get("state") == "did not ping" else "failing"
        outcome = next((p.kind for p in self.last if p.kind in ("start", "success", "fail")), None)
        return {"success": "ok", "start": "running", "fail": "failing"}.get(
            outcome or "", "waiting"
        )


def _views(session: Session, client: Client, limit: int) -> list[BeatView]:
    return [
        BeatView(
            client,
            beat,
            [p for p in pings(session, client.id, beat.id, limit) if p.kind != "watch"],
            open_incident(session, client.id, beat.id),
        )
        for beat in beats_of(client)
    ]


@router.get("/console/heartbeats", response_class=HTMLResponse)
def heartbeat_list(
    request: Request, user: User = Depends(require_staff), session: Session = DB
) -> Response:
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    rows = [view for c in clients for view in _views(session, c, LAST)]
    return render(
        request,
        "console_heartbeats.html",
        user,
        rows=rows,
        client_zones={c.id: c.timezone for c in clients},
        base=get_settings().base_url.rstrip("/"),
    )


@router.get("/console/heartbeats/{client_id}/{beat_id}", response_class=HTMLResponse)
def heartbeat_page(
    request: Request,
    client_id: str,
    beat_id: str,
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    client = session.get(Client, client_id[:64])
    views = _views(session, client, 100) if client is not None else []
    view = next((v for v in views if v.beat.id == beat_id), None)
    if client is None or view is None:
        raise HTTPException(404, "No such heartbeat.")
    return render(
        request,
        "console_heartbeat.html",
        user,
        view=view,
        tz=client.timezone,
        base=get_settings().base_url.rstrip("/"),
    )


@router.get("/console/pings/{ping_id}", response_class=HTMLResponse)
def ping_page(
    request: Request, ping_id: RowId, user: User = Depends(require_staff), session: Session = DB
) -> Response:
    ping = session.get(HeartbeatPing, ping_id)
    client = session.get(Client, ping.client_id) if ping is not None else None
    if ping is None or client is None or ping.kind == "watch":
        raise HTTPException(404, "No such ping.")
    return render(request, "console_ping.html", user, ping=ping, tz=client.timezone)


@router.get("/console/integrations", response_class=HTMLResponse)
def key_list(
    request: Request,
    principal: Principal = Depends(console_principal),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    return _keys_page(request, session, principal, user, issued=None)


def _keys_page(
    request: Request,
    session: Session,
    principal: Principal,
    user: User,
    issued: object,
    status_code: int = 200,
) -> Response:
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    return render(
        request,
        "console_integrations.html",
        user,
        status_code=status_code,
        keys=actions.keys(session, principal),
        clients=clients,
        client_zones={c.id: c.timezone for c in clients},
        may_issue=Action.INTEGRATION_KEY in MAY.get(user.role, frozenset()),
        issued=issued,
        base=get_settings().base_url.rstrip("/"),
    )


@router.post("/console/integrations", response_class=HTMLResponse)
def issue_key(
    request: Request,
    client: str = Form("", max_length=64),
    name: str = Form("", max_length=300),
    csrf: str = Form(""),
    principal: Principal = Depends(console_principal),
    user: User = Depends(require_staff),
    session: Session = DB,
) -> Response:
    """The key is in this one answer (never stored, never redirected to, never cached)."""
    check_csrf(request, csrf)
    try:
        with session.begin_nested():
            issued = actions.issue(session, clock_of(request), principal, client, name)
    except Forbidden:
        raise  # 403, audited
    except OpsbinderError as exc:
        flash(request, "error", str(exc))
        return _keys_page(request, session, principal, user, issued=None, status_code=400)
    return _keys_page(request, session, principal, user, issued=issued)


@router.post("/console/integrations/{prefix}/revoke")
def revoke_key(
    request: Request,
    prefix: str,
    csrf: str = Form(""),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)

    def action(s: Session) -> str:
        row = actions.revoke(s, clock, principal, prefix[:40])
        return f"integration key {row.prefix} ({row.client_id}, {row.name}) revoked"

    return act(request, session, csrf, "/console/integrations", action)
