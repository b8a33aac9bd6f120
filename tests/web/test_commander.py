"""Naming an incident commander: the same action through the console and the API, audited."""

from __future__ import annotations

from sqlalchemy import select

from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry
from tests.web.conftest import csrf_of, sign_in


def test_it_names_a_commander_from_the_console_and_the_api_audited(web, world, store):
    sign_in(web)
    csrf = csrf_of(web.get(f"/console/incidents/{world.incident_a}").text)
    page = web.post(
        f"/console/incidents/{world.incident_a}/commander",
        data={"csrf": csrf, "contact": "mark-olsen"},
    )
    assert "Incident commander set" in page.text
    auth = {"Authorization": f"Bearer {world.api_staff}"}
    same = web.post(
        f"/api/v1/incidents/{world.incident_a}/commander",
        headers=auth,
        json={"contact": "mark-olsen"},
    )
    assert same.status_code == 409
    other = web.post(
        f"/api/v1/incidents/{world.incident_a}/commander",
        headers=auth,
        json={"contact": "priya-nair"},
    )
    assert other.status_code == 200 and other.json()["commander"] == "priya-nair"
    with session_scope(store) as s:
        actors = [
            a.actor
            for a in s.execute(
                select(AuditEntry).where(AuditEntry.action == "incident.commander")
            ).scalars()
        ]
    assert actors[0] == "alice" and actors[1].startswith("alice (token")
