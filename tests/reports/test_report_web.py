"""The report page in the web app, for signed-in staff only."""

from __future__ import annotations

import warnings

from fastapi import FastAPI
from sqlalchemy import Engine

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from opsbinder.web import create_app, reports_routes
from tests.web.conftest import PASSWORD, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def _app(engine: Engine, clock: FrozenClock) -> FastAPI:
    app = create_app(engine, clock, secret="x" * 32)
    if not any(getattr(r, "path", "") == "/reports/{client_id}/{month}" for r in app.routes):
        app.include_router(reports_routes.router)
    return app


def test_it_serves_the_report_to_staff_and_sends_others_to_sign_in(
    history: Engine, clock: FrozenClock
) -> None:
    with session_scope(history) as s:
        accounts.add_user(s, clock, username="mona", role="manager", password=PASSWORD, actor="t")
    with TestClient(_app(history, clock), follow_redirects=False) as web:
        answer = web.get("/reports/nordhafen/2026-10")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
        sign_in(web, "mona")
        page = web.get("/reports/nordhafen/2026-10")
        assert page.status_code == 200 and page.text.count("<svg") >= 4
        assert "Nordhafen Logistik GmbH" in page.text
        data = web.get("/reports/nordhafen/2026-10?format=json").json()
        assert data["total"]["runs"] == 8
        assert web.get("/reports/nordhafen/2026-10?format=csv").text.startswith("level,")
        assert web.get("/reports/nordhafen/October").status_code == 400
        assert web.get("/reports/nobody/2026-10").status_code == 404
        assert web.get("/reports/nordhafen").headers["location"] == "/reports/nordhafen/2026-02"
