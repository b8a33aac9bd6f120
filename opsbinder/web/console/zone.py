"""The console's zone page: which zone the viewer reads times in (`opsbinder.web.zones`)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from opsbinder.store.models import User
from opsbinder.web import zones
from opsbinder.web.console.forms import check_csrf, flash, render
from opsbinder.web.deps import require_staff

router = APIRouter(include_in_schema=False)


def _back(next_page: str) -> str:
    """Only a path of this site: never an open redirect."""
    return next_page if next_page.startswith("/") and not next_page.startswith("//") else "/"


@router.get("/console/zone", response_class=HTMLResponse)
def zone_page(
    request: Request,
    next_page: str = Query("/console/incidents", alias="next", max_length=300),
    user: User = Depends(require_staff),
) -> Response:
    response = render(
        request,
        "console_zone.html",
        user,
        next_page=_back(next_page),
        zone_names=zones.zone_names(),
    )
    # the one page with a script: it names the browser's zone in the form (a file, never inline)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; object-src 'none'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


@router.post("/console/zone")
def choose_zone(
    request: Request,
    csrf: str = Form(""),
    kind: Literal["client", "utc", "own"] = Form("client"),
    own: str = Form("", max_length=64),
    next_page: str = Form("/console/incidents", alias="next", max_length=300),
    user: User = Depends(require_staff),
) -> Response:
    check_csrf(request, csrf)
    back = _back(next_page)
    if kind == "own" and own not in zones.zone_names():
        flash(request, "error", f"zone: {own[:64]!r} is not a time zone name (e.g. Europe/Berlin)")
        return RedirectResponse(f"/console/zone?next={quote(back)}", status_code=303)
    choice = zones.ZoneChoice(kind, own if kind == "own" else "")
    flash(request, "ok", f"Times are now shown in {choice.label}.")
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        zones.COOKIE,
        choice.cookie,
        max_age=zones.COOKIE_MAX_AGE,
        httponly=True,
        samesite="lax",
    )
    return response
