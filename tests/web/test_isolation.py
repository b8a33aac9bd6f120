"""Tenant isolation over every route of the app: lindqvist's credentials against nordhafen.

The routes are enumerated from the app itself, so a route added later is covered (or the test
fails because it does not know how to fill its path parameters).
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route

from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, StatusUpdate

VICTIM_MARKERS = ("nordhafen", "Nordhafen", "TMS backup missing (nordhafen)", "Dirk Hansen")
PUBLIC = {"/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/healthz", "/login", "/"}


def all_routes(routes: list[BaseRoute]) -> list[Route]:
    found: list[Route] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found.extend(all_routes(inner.routes))
        elif isinstance(route, Mount):
            continue  # static files: no client data
        elif isinstance(route, Route | APIRoute):
            found.append(route)
    return found


def fill(path: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in values, f"isolation test does not know path parameter {name!r} ({path})"
        return values[name]

    return re.sub(r"{([^}]+)}", one, path)


def test_it_never_shows_or_changes_another_clients_data_on_any_route(app, web, world, store):
    with session_scope(store) as s:
        victim_proc = s.execute(
            select(Procedure.id).where(Procedure.client_id == "nordhafen").limit(1)
        ).scalar_one()
    values = {
        "client_id": "nordhafen",
        "incident_id": str(world.incident_a),
        "procedure_id": str(victim_proc),
        "verb": "pause",
        "month": "2026-02",
    }
    # the attacker holds every credential lindqvist has: its status cookie and an all-scope token
    assert web.get(f"/status/lindqvist?token={world.status_b}").status_code == 200
    attacker = {"Authorization": f"Bearer {world.api_b}"}
    body = {
        "message": "x",
        "current_status": "x",
        "next_steps": "x",
        "business_impact": "x",
        "csrf": "x",
    }
    checked = 0
    for route in all_routes(app.routes):
        if route.path in PUBLIC:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            url = fill(route.path, values)
            for query in ("", f"?token={world.status_b}", "?client_id=nordhafen"):
                kwargs = {"json": body} if url.startswith("/api/") else {"data": body}
                answer = web.request(
                    method, url + query, headers=attacker, follow_redirects=False, **kwargs
                )
                checked += 1
                where = f"{method} {url}{query} -> {answer.status_code}"
                if answer.status_code in (303, 307):
                    assert answer.headers["location"].startswith("/login"), where
                elif route.path in ("/api/v1/incidents", "/api/v1/procedures", "/api/v1/oncall"):
                    rows = answer.json()
                    assert answer.status_code == 200, where
                    assert all(row["client_id"] == "lindqvist" for row in rows), where
                else:
                    assert answer.status_code in (401, 403, 404, 405, 422), where
                for marker in VICTIM_MARKERS:
                    assert marker not in answer.text, f"{where} leaks {marker!r}"
    assert checked > 40
    with session_scope(store) as s:
        victim = s.get(Incident, world.incident_a)
        assert victim.state == "triggered" and victim.acknowledged_by is None
        assert not s.get(Procedure, victim_proc).paused
        assert s.execute(select(StatusUpdate)).first() is None


def test_it_gives_a_client_scoped_token_only_its_own_client(web, world):
    auth = {"Authorization": f"Bearer {world.api_b}"}
    own = web.get("/api/v1/incidents", headers=auth).json()
    assert [i["client_id"] for i in own] == ["lindqvist"]
    assert web.get("/api/v1/incidents?client_id=nordhafen", headers=auth).json() == []
    assert web.get(f"/api/v1/incidents/{world.incident_a}", headers=auth).status_code == 404
    assert web.get(f"/api/v1/incidents/{world.incident_b}", headers=auth).status_code == 200
    assert web.get("/api/v1/status/nordhafen", headers=auth).status_code == 404
    assert web.get("/api/v1/status/lindqvist", headers=auth).json()["client_id"] == "lindqvist"
