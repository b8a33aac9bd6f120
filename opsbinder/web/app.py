"""The app factory: one FastAPI app for status pages, the console and the JSON API.

Server-rendered with Jinja2 (autoescaped) and usable without JavaScript: every action is a plain
HTML form that posts and redirects. The store and the clock are parameters, so tests serve the
app against their own store with a frozen clock.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable
from pathlib import Path as FilePath
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from opsbinder.actions.procedures import Launcher
from opsbinder.clock import Clock, SystemClock, duration_text, utc
from opsbinder.errors import Forbidden
from opsbinder.settings import get_settings
from opsbinder.store.db import default_engine
from opsbinder.web import (
    access_log,
    alertmanager,
    api,
    auth,
    console,
    pagerduty,
    pings,
    reports_routes,
    status_page,
    update_fragments,
    zones,
)
from opsbinder.web.deps import LoginRequired
from opsbinder.web.page_cache import PageCache
from opsbinder.web.refusals import refusal
from opsbinder.web.request_guard import RequestGuard
from opsbinder.web.secure_cookies import SecureCookies
from opsbinder.web.security import web_secret

HERE = FilePath(__file__).resolve().parent


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["local"] = zones.local_time  # plain text (the Atom feed)
    templates.env.filters["when"] = zones.when  # every time on a page
    templates.env.filters["when_text"] = zones.when_text  # the same where no markup fits
    templates.env.filters["duration"] = duration_text
    templates.env.globals["utc"] = utc
    templates.env.globals["update_once"] = update_fragments.update_once  # status page only
    return templates


def create_app(
    engine: Engine | None = None,
    clock: Clock | None = None,
    secret: str | None = None,
    launcher: Launcher | None = None,
    page_cache_seconds: float | None = None,
) -> FastAPI:
    """`launcher(client_id, procedure_key, actor)` starts a run for "run now" (a seam for tests);
    a kept status page is sent as it is, rendered by the writer of a change at once and by the
    minutely sweep when time alone changes it or its chains are due a check; a page nobody
    sweeps is rendered in the background once due `page_cache_seconds` three times over (the
    `status_cache_seconds` setting, default 60; 0: the server renders every request)."""
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
        page_cache_seconds = get_settings().status_cache_seconds
    settings = get_settings()
    app.state.page_cache = PageCache(page_cache_seconds)
    app.add_middleware(  # what a browser keeps that is not who it is: see web/sessions.py
        SessionMiddleware,
        secret_key=secret or web_secret(),
        session_cookie="opsbinder_state",
        same_site="lax",
        max_age=settings.session_hours * 3600,
    )
    app.add_middleware(SecureCookies, always=settings.secure_cookies)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes)  # before the rest
    access_log.install()  # no ?token= in uvicorn's access log
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(status_page.router)
    app.include_router(auth.router)
    app.include_router(console.router)
    app.include_router(api.router)
    app.include_router(reports_routes.router)  # the manager's monthly report (issue 6)
    app.include_router(pagerduty.router)  # monitoring events (issue 12)
    app.include_router(alertmanager.router)
    app.include_router(pings.router)  # heartbeats of jobs that run elsewhere

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return refusal(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        # the refusal is already on record: the request's session scope wrote it
        return refusal(request, 403, str(exc))

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
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

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_served_app() -> FastAPI:
    """The app as `opsbinder web` serves it (uvicorn's factory, once per worker process).

    What the process has loaded by now (modules, models, templates: most of its objects, kept
    for its whole life) is moved out of the garbage collector's sight. Otherwise each full
    collection walks all of it, and one (about 0.1 s on a busy machine) stalls every request in
    flight: it made most of the status page's slowest percent (issue 16 item 3). Not in
    `create_app`: a test process makes many apps and must still collect their garbage."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
