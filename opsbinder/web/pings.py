"""Healthchecks-compatible ping URLs for the binder's heartbeats.

`/ping/<uuid>` (success), `/ping/<uuid>/start`, `/ping/<uuid>/fail`, `/ping/<uuid>/log` and
`/ping/<uuid>/<exit status 0-255>`, by GET, HEAD or POST, answered like Healthchecks does:
200 "OK", 404 "not found", 400 "invalid url format". So a cron wrapper or a `curl -fsS -m 10
--retry 5 https://hc-ping.com/<uuid>` one-liner works once its base URL is changed. A POST body
is kept as the ping's log, cut at the heartbeat's `max_log_bytes`.
"""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.orm import Session

from opsbinder.incidents.heartbeats import Directory, record_ping
from opsbinder.web.deps import DB, clock_of
from opsbinder.web.intake_body import Body, read_body

router = APIRouter(include_in_schema=False)

MAX_BODY = 100_000
METHODS = ["GET", "HEAD", "POST"]
ACTIONS = {"": "success", "start": "start", "fail": "fail", "log": "log"}


async def ping_body(request: Request) -> Body:
    return await read_body(request, MAX_BODY)


def _text(status: int, text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status)


def directory(request: Request) -> Directory:
    found: Directory | None = getattr(request.app.state, "heartbeats", None)
    if found is None:
        found = request.app.state.heartbeats = Directory()
    return found


@router.api_route("/ping/{uuid}", methods=METHODS)
@router.api_route("/ping/{uuid}/{action}", methods=METHODS)
def ping(
    request: Request,
    uuid: str,
    action: str = "",
    body: Body = Depends(ping_body),
    session: Session = DB,
) -> PlainTextResponse:
    exit_status = None
    if action in ACTIONS:
        kind = ACTIONS[action]
    elif action.isdigit() and len(action) <= 3 and int(action) <= 255:
        exit_status = int(action)
        kind = "success" if exit_status == 0 else "fail"
    else:
        return _text(400, "invalid url format")
    try:
        parsed = UUID(uuid)
    except ValueError:
        return _text(404, "not found")
    found = directory(request).find(session, parsed)
    if found is None:
        return _text(404, "not found")
    limit = found.beat.max_log_bytes
    log = body.data[:limit].decode("utf-8", errors="replace").replace("\x00", "")
    record_ping(
        session,
        clock_of(request),
        found,
        kind=kind,
        exit_status=exit_status,
        method=request.method,
        remote_addr=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
        body=log,
        truncated=body.truncated or len(body.data) > limit,
    )
    return _text(200, "OK")
