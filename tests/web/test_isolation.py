"""Tenant isolation over every route of the app: each client's credentials against the other's.

The routes are enumerated from the app itself, so a route added later is covered (or the test
fails because it does not know how to fill its path parameters).
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import BaseRoute, Mount, Route

from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure, StatusUpdate

# (victim, attacker): each client's credentials against the other's resources. Markers are what
# only the victim's pages hold (the second client is a copy of the first, so contacts are shared).
DIRECTIONS = [("nordhafen", "lindqvist"), ("lindqvist", "nordhafen")]
MARKERS = {
    "nordhafen": ("nordhafen", "Nordhafen", "TMS 2027 release upgrade"),
    "lindqvist": ("lindqvist", "Lindqvist"),
}
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


@pytest.mark.parametrize(("victim", "attacker_id"), DIRECTIONS)
def test_it_never_shows_or_changes_another_clients_data_on_any_route(
    app, web, world, store, victim, attacker_id
):
    incident = world.incident_a if victim == "nordhafen" else world.incident_b
    status_token = world.status_b if victim == "nordhafen" else world.status_a
    api_token = world.api_b if victim == "nordhafen" else world.api_a
    with session_scope(store) as s:
        victim_proc = s.execute(
            select(Procedure.id).where(Procedure.client_id == victim).limit(1)
        ).scalar_one()
    values = {
        "client_id": victim,
        "incident_id": str(incident),
        "procedure_id": str(victim_proc),
        "verb": "pause",
        "month": "2026-02",
        "key": "not-an-integration-key",  # monitoring's routes: a key of no client
        "uuid": "00000000-0000-4000-8000-000000000000",  # a heartbeat of no client
        "action": "fail",
        "beat_id": "tms-pg-dump",  # the console's heartbeat pages: staff only
        "ping_id": "1",
        "prefix": "obi_00000000",
        "name": "manifest.json",  # a file of an evidence pack
    }
    # the attacker holds every credential its client has: the status cookie, an all-scope token
    assert web.get(f"/status/{attacker_id}?token={status_token}").status_code == 200
    attacker = {"Authorization": f"Bearer {api_token}"}
    body = {
        "message": "x",
        "current_status": "x",
        "next_steps": "x",
        "business_impact": "x",
        "csrf": "x",
        # declare for the victim, change its severity, link it, publish it: all valid bodies
        "client_id": victim,
        "severity": "sev2",
        "title": "x",
        "primary_id": incident,
        "public_title": "x",
        "public_state": "identified",
    }
    with session_scope(store) as s:
        victims_before = len(s.execute(select(Incident.id)).all())
    checked = 0
    for route in all_routes(app.routes):
        if route.path in PUBLIC:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            url = fill(route.path, values)
            for query in ("", f"?token={status_token}", f"?client_id={victim}"):
                kwargs = {"json": body} if url.startswith("/api/") else {"data": body}
                answer = web.request(
                    method, url + query, headers=attacker, follow_redirects=False, **kwargs
                )
                checked += 1
                where = f"{method} {url}{query} -> {answer.status_code}"
                if answer.status_code in (303, 307):
                    assert answer.headers["location"].startswith("/login"), where
                elif method == "GET" and route.path in (
                    "/api/v1/incidents",
                    "/api/v1/procedures",
                    "/api/v1/oncall",
                ):
                    rows = answer.json()
                    assert answer.status_code == 200, where
                    assert all(row["client_id"] == attacker_id for row in rows), where
                elif route.path.startswith(("/v2/", "/alertmanager")):  # their own bad-event answer
                    assert answer.status_code in (400, 401, 403, 404, 405, 422), where
                else:
                    assert answer.status_code in (401, 403, 404, 405, 422), where
                for marker in MARKERS[victim]:
                    assert marker not in answer.text, f"{where} leaks {marker!r}"
    assert checked > 40
    with session_scope(store) as s:
        row = s.get(Incident, incident)
        assert row.state == "triggered" and row.acknowledged_by is None
        assert (row.severity, row.public_title, row.primary_incident_id) == ("sev1", None, None)
        assert len(s.execute(select(Incident.id)).all()) == victims_before  # none declared
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
