"""The app factory: one FastAPI app for status pages, the console and the JSON API.

Server-rendered with Jinja2 (autoescaped) and usable without JavaScript: every action is a plain
HTML form that posts and redirects. The store and the clock are parameters, so tests serve the
app against their own store with a frozen clock.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from opsbinder.clock import Clock, SystemClock, utc
from opsbinder.store.db import default_engine, session_scope
from opsbinder.web.page_cache import PageCache
from opsbinder.web.security import web_secret

HERE = FilePath(__file__).resolve().parent
CACHE_ENV = "OPSBINDER_STATUS_CACHE_SECONDS"


def local_time(
    value: datetime | None, tz: str | ZoneInfo = "UTC", fmt: str = "%a %d %b %Y, %H:%M %Z"
) -> str:
    if value is None:
        return "—"
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return utc(value).astimezone(zone).strftime(fmt)


def human_duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h {rest}m"
    return f"{hours}h" if hours else f"{rest}m"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["local"] = local_time
    templates.env.filters["duration"] = human_duration
    templates.env.globals["utc"] = utc
    return templates


def create_app(
    engine: Engine | None = None,
    clock: Clock | None = None,
    secret: str | None = None,
    launcher: Callable[[str, str, str], None] | None = None,
    page_cache_seconds: float | None = None,
) -> FastAPI:
    """`launcher(client_id, procedure_key, actor)` starts a run for "run now" (a seam for tests);
    rendered status pages are reused for `page_cache_seconds` (OPSBINDER_STATUS_CACHE_SECONDS,
    default 5; 0 turns it off) unless the client's data changed."""
    from opsbinder.web import api, console, reports_routes, status_page

    app = FastAPI(
        title="opsbinder",
        version="1",
        description="Incidents, Severity-1 status updates and procedures of opsbinder. "
        "Bearer tokens carry scopes; a client-scoped token only ever sees its client.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.engine = engine or default_engine()
    app.state.clock = clock or SystemClock()
    app.state.templates = make_templates()
    app.state.launcher = launcher
    if page_cache_seconds is None:
        page_cache_seconds = float(os.environ.get(CACHE_ENV, "5"))
    app.state.page_cache = PageCache(page_cache_seconds)
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret or web_secret(),
        session_cookie="opsbinder_session",
        same_site="lax",
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(status_page.router)
    app.include_router(console.router)
    app.include_router(api.router)
    app.include_router(reports_routes.router)  # the manager's monthly report (issue 6)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):  # type: ignore[no-untyped-def]
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        return HTMLResponse(
            app.state.templates.get_template("error.html").render(
                status=exc.status_code, detail=exc.detail, request=request
            ),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.middleware("http")
    async def _security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # status links carry a token on the first visit: never pass it on to a linked site
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if not request.url.path.startswith("/api/docs"):
            # the pages run no script at all; a stored value that slips through cannot either
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; script-src 'none'; object-src 'none'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            )
        return response

    from opsbinder.web.auth import LoginRequired

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired):  # type: ignore[no-untyped-def]
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back on error."""
    with session_scope(request.app.state.engine) as session:
        yield session


# A row id in a path: bounded to what both stores can hold, so a huge number is a 422, not a 500.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]

# Committed when the handler returns and before the response goes out, so the page a redirect
# leads to always sees the change.
DB = Depends(db, scope="function")


def clock_of(request: Request) -> Clock:
    return request.app.state.clock
