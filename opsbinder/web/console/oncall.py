"""The console's on-call page: who is on call now, per client and schedule."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from opsbinder.store.models import User
from opsbinder.web import oncall_view
from opsbinder.web.console.forms import render
from opsbinder.web.deps import DB, clock_of, require_staff

router = APIRouter(include_in_schema=False)


@router.get("/console/oncall", response_class=HTMLResponse)
def oncall(
    request: Request, user: User = Depends(require_staff), session: Session = DB
) -> Response:
    rows = oncall_view.now_on_call(session, clock_of(request))
    return render(request, "console_oncall.html", user, rows=rows)
