"""How the app says no: JSON `{"detail": ...}` to the API and the monitoring events endpoint,
the error page to a browser."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

# the JSON API; the monitoring intake doors (PagerDuty Events v2, Alertmanager, pings)
MACHINE_PATHS = ("/api/", "/v2/", "/alertmanager", "/ping/")


def refusal(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> Response:
    if request.url.path.startswith(MACHINE_PATHS):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    page = request.app.state.templates.get_template("error.html").render(
        status=status, detail=detail, request=request
    )
    return HTMLResponse(page, status_code=status, headers=headers)
