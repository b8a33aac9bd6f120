"""The console's procedures: schedules, last and next runs, and run now / pause / resume."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder.actions import procedures as actions
from opsbinder.authorization import MAY, Action, Principal
from opsbinder.binder_store import procedure_config
from opsbinder.clock import utc
from opsbinder.config.schedules import next_runs
from opsbinder.store.models import Client, Procedure, Run, User
from opsbinder.web import run_now
from opsbinder.web.console.forms import act, render
from opsbinder.web.deps import DB, RowId, clock_of, console_principal, launcher_of, require_staff

router = APIRouter(include_in_schema=False)


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
    # listed by the name they are shown with (case-insensitive), not by key
    order = (func.lower(Procedure.name), Procedure.client_id, Procedure.key)
    procs = list(session.execute(query.order_by(*order)).scalars())
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    client_paused = {c.id for c in clients if c.paused}
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
        paused = proc.paused or proc.client_id in client_paused
        upcoming = [] if paused else _next_runs(proc, now)
        rows.append({"proc": proc, "last": last, "next": upcoming, "paused": paused})
    return render(
        request,
        "console_procedures.html",
        user,
        rows=rows,
        clients=clients,
        client_zones={c.id: c.timezone for c in clients},
        client=client,
        can_pause=Action.PAUSE in MAY.get(user.role, frozenset()),
        locked={c.id for c in clients if c.locked_down},
        run_mode=run_now.mode(),
    )


def _next_runs(proc: Procedure, now: datetime) -> list[datetime]:
    try:
        return next_runs(procedure_config(proc).schedule, now, 2)
    except Exception:  # a definition the current models no longer read: show no next runs
        return []


@router.post("/console/procedures/{procedure_id}/{verb}")
def procedure_action(
    request: Request,
    procedure_id: RowId,
    verb: Literal["run", "pause", "resume"],
    csrf: str = Form(""),
    principal: Principal = Depends(console_principal),
    session: Session = DB,
) -> Response:
    clock = clock_of(request)
    launch = launcher_of(request)

    def action(s: Session) -> str:
        if verb == "run":
            return actions.run_now(s, clock, principal, procedure_id, launch)
        return actions.pause_procedure(s, clock, principal, procedure_id, verb == "pause")

    return act(request, session, csrf, "/console/procedures", action)
