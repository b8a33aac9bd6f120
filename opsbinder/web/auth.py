"""Signing in to the console and out again; the session itself is `opsbinder.web.sessions`.

Who is asking for each request (a signed-in user, an API token) is resolved in
`opsbinder.web.deps`; what they may do is `opsbinder.authorization`.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder import accounts, audit, sign_in_throttle
from opsbinder.web import sessions
from opsbinder.web.console.forms import check_csrf, flash, render
from opsbinder.web.deps import DB, clock_of

router = APIRouter(include_in_schema=False)
HOME = "/console/incidents"


def _safe_next(value: str) -> str:
    """Only a path of this site: never an open redirect to another one."""
    return value if value.startswith("/") and not value.startswith("//") else HOME


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: Session = DB) -> Response:
    target = HOME if sessions.signed_in(request, session, clock_of(request)) else "/login"
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = Query(HOME)) -> Response:
    return render(request, "login.html", None, next=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=100),
    password: str = Form(..., max_length=500),
    csrf: str = Form(""),
    next: str = Form(HOME),
    session: Session = DB,
) -> Response:
    check_csrf(request, csrf)
    clock = clock_of(request)
    counted = sign_in_throttle.keys(username, sessions.address_of(request))
    wait = sign_in_throttle.retry_after(session, clock, counted)
    if wait is not None:  # no password check, no audit entry: the burst's one is written
        raise HTTPException(
            429,
            f"Too many failed sign-ins; try again in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    user = accounts.authenticate(session, username, password)
    if user is None:
        sign_in_throttle.failed(session, clock, counted, username=username)
        audit.record(
            session,
            clock,
            actor=username[:100] or "?",
            action="user.sign_in_failed",
            object_type="user",
            object_id=username[:100],
        )
        flash(request, "error", "Unknown user or wrong password.")
        return RedirectResponse(f"/login?next={_safe_next(next)}", status_code=303)
    sign_in_throttle.succeeded(session, username)
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.start(request, response, session, clock, user)
    return response


@router.post("/logout")
def logout(request: Request, csrf: str = Form(""), session: Session = DB) -> Response:
    check_csrf(request, csrf)
    response = RedirectResponse("/login", status_code=303)
    sessions.end(request, response, session, clock_of(request))
    return response
