"""How a console page is rendered and how a console form is answered.

Every action is an HTML form (no JavaScript) carrying the session's CSRF token; it runs in its
own savepoint and redirects back with a message. A domain refusal (already acknowledged, too
soon for another update) is shown and writes nothing; a refusal of who is asking (`Forbidden`)
is a 403 page and an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.errors import Forbidden, OpsbinderError
from opsbinder.store.models import User
from opsbinder.web import zones
from opsbinder.web.security import csrf_ok, csrf_token


def render(
    request: Request, name: str, user: User | None, status_code: int = 200, **context: object
) -> Response:
    flashes = request.session.pop("flash", [])
    response: Response = request.app.state.templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request.session),
            "flashes": flashes,
            "zone_choice": zones.choice_of(request.cookies.get(zones.COOKIE)),
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )
    return response


def flash(request: Request, kind: str, message: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, message]]


def check_csrf(request: Request, token: str) -> None:
    if not csrf_ok(request.session, token):
        raise HTTPException(403, "The form has expired or did not come from this site; reload it.")


def act(
    request: Request,
    session: Session,
    csrf: str,
    back: str,
    action: Callable[[Session], str],
) -> RedirectResponse:
    """Check the form's token, run one action in a savepoint, and go back with its message."""
    check_csrf(request, csrf)
    try:
        with session.begin_nested():
            message = action(session)
        flash(request, "ok", message)
    except Forbidden:
        raise  # 403, audited (the app's handler and the session scope)
    except OpsbinderError as exc:
        flash(request, "error", str(exc))
    return RedirectResponse(back, status_code=303)
