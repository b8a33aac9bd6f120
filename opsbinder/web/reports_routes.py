"""The manager's monthly report in the web app: the same page `opsbinder report` writes.

Include with `app.include_router(reports_routes.router)` in app.py (signed-in staff only).
GET /reports/{client}/{YYYY-MM}  -> the HTML report; ?format=csv or ?format=json for the data.
GET /reports/{client}            -> redirect to last month's report.
GET /reports                     -> the console's list of reports (linked from the console nav).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from opsbinder.errors import NotFound, OpsbinderError
from opsbinder.store.models import Client, User
from opsbinder.web.console.forms import render
from opsbinder.web.deps import DB, clock_of, require_staff

router = APIRouter(tags=["reports"])


@router.get("/reports", include_in_schema=False, response_class=HTMLResponse)
def report_list(
    request: Request, user: User = Depends(require_staff), session: Session = DB
) -> Response:
    """Every client's report of last month and the months before, from the console's nav."""
    from opsbinder.reports.report import Month

    now = clock_of(request).now()
    last = Month(now.year, now.month).shift(-1)
    months = [last.shift(-n) for n in range(6)]
    clients = list(session.execute(select(Client).order_by(Client.name)).scalars())
    return render(request, "console_reports.html", user, clients=clients, months=months)


@router.get("/reports/{client_id}", include_in_schema=False)
def last_month(client_id: str, request: Request, user: User = Depends(require_staff)):  # type: ignore[no-untyped-def]
    from opsbinder.reports.report import Month

    now = clock_of(request).now()
    month = Month(now.year, now.month).shift(-1)
    return RedirectResponse(f"/reports/{client_id}/{month}", status_code=303)


@router.get("/reports/{client_id}/{month}", include_in_schema=False)
def report_page(  # type: ignore[no-untyped-def]
    client_id: str,
    month: str,
    request: Request,
    fmt: str = Query("html", alias="format", pattern="^(html|csv|json)$"),
    trend: int = Query(6, ge=0, le=36),
    user: User = Depends(require_staff),
    session: Session = DB,
):
    from opsbinder.reports.render import render
    from opsbinder.reports.report import Month, build_report

    try:
        built = build_report(
            session.connection(),  # the request's own transaction (SQLite: one writer at a time)
            Month.parse(month),
            client_id=client_id,
            trend_months=trend,
            now=clock_of(request).now(),
        )
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except OpsbinderError as exc:
        raise HTTPException(400, str(exc)) from exc
    body = render(built, fmt)
    if fmt == "json":
        return JSONResponse(content=__import__("json").loads(body))
    if fmt == "csv":
        return PlainTextResponse(
            body,
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{client_id}-{month}.csv"'},
        )
    return HTMLResponse(body)
