"""The console's on-call page: per client and schedule, who is on now and until when, and the
next 14 days as a timeline with overrides and gaps (`opsbinder.web.oncall_view`)."""

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
    days = oncall_view.TIMELINE_DAYS
    rows = oncall_view.timelines(session, clock_of(request), days)
    return render(request, "console_oncall.html", user, timelines=rows, days=days)
