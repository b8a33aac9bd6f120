"""Declaring and changing incidents through the JSON API, as a script or integration would."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, OutboxMessage

DECLARE = {
    "client_id": "nordhafen",
    "severity": "sev2",
    "title": "Client called: scanners offline in warehouse 2",
    "public_title": "Handheld scanners offline (warehouse 2)",
    "impact": "Picking by paper lists",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_it_declares_raises_publishes_and_links_audited_with_the_tokens_user(
    web, world, store, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")
    auth = bearer(world.api_staff)
    made = web.post("/api/v1/incidents", json=DECLARE, headers=auth)
    assert made.status_code == 201, made.text
    body = made.json()
    number = body["id"]
    assert body["public_title"] == DECLARE["public_title"] and body["severity"] == "sev2"
    assert body["public_state"] == "investigating" and body["next_update_due"] is None

    raised = web.post(
        f"/api/v1/incidents/{number}/severity",
        json={"severity": "sev1", "reason": "all warehouses now"},
        headers=auth,
    )
    assert raised.status_code == 200, raised.text
    assert raised.json()["severity"] == "sev1" and raised.json()["next_update_due"]
    with session_scope(store) as s:
        keys = [
            m.idempotency_key
            for m in s.execute(
                select(OutboxMessage).where(OutboxMessage.incident_id == number)
            ).scalars()
        ]
        entry = s.execute(
            select(AuditEntry).where(AuditEntry.action == "incident.severity")
        ).scalar_one()
    assert any("/sev1/t0/contact:claudia-roth" in k for k in keys)  # management, at once
    assert any("/stakeholder/dirk-hansen" in k for k in keys)
    assert entry.actor.startswith("alice (token") and entry.details["to"] == "sev1"

    shown = web.post(
        f"/api/v1/incidents/{number}/public", json={"public_state": "identified"}, headers=auth
    )
    assert shown.status_code == 200 and shown.json()["public_state"] == "identified"
    same = web.post(
        f"/api/v1/incidents/{number}/public", json={"public_state": "identified"}, headers=auth
    )
    assert same.status_code == 409

    dup = web.post(
        f"/api/v1/incidents/{world.incident_a}/duplicate", json={"primary_id": number}, headers=auth
    )
    assert dup.status_code == 200, dup.text
    assert dup.json()["primary_incident_id"] == number and dup.json()["state"] == "resolved"


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"severity": "sev9"}, 422, "severity"),
        ({"title": ""}, 422, "title"),
        ({"client_id": "nobody"}, 404, "no client 'nobody'"),
        ({"client_id": None}, 422, "client_id: required"),
        ({"public_title": "x" * 201}, 422, "public_title"),
        ({"impact": "nul\u0000"}, 422, "NUL"),
        ({"component": "nope"}, 422, "component: 'nope' is not a component of nordhafen"),
    ],
)
def test_it_refuses_bad_declarations_with_the_documented_error(
    web, world, store, change, status, words
):
    answer = web.post(
        "/api/v1/incidents", json={**DECLARE, **change}, headers=bearer(world.api_staff)
    )
    assert answer.status_code == status, answer.text
    assert words in answer.text
    with session_scope(store) as s:
        assert len(s.execute(select(Incident.id)).all()) == 2  # the two of the world only


def test_it_declares_for_a_client_scoped_tokens_own_client_and_no_other(web, world, store):
    own = web.post(
        "/api/v1/incidents",
        json={**DECLARE, "client_id": None},
        headers=bearer(world.api_b),
    )
    assert own.status_code == 201 and own.json()["client_id"] == "lindqvist"
    other = web.post("/api/v1/incidents", json=DECLARE, headers=bearer(world.api_b))
    assert other.status_code == 404 and "nordhafen" not in other.text.replace("'nordhafen'", "")
    # linking its own incident to another client's one: that one does not exist for it
    link = web.post(
        f"/api/v1/incidents/{own.json()['id']}/duplicate",
        json={"primary_id": world.incident_a},
        headers=bearer(world.api_b),
    )
    assert link.status_code == 404, link.text
    with session_scope(store) as s:
        clients = [c for (c,) in s.execute(select(Incident.client_id)).all()]
        assert clients.count("nordhafen") == 1 and s.get(Incident, own.json()["id"]).state == (
            "triggered"
        )
    # a read-only token may not declare, and the refusal is on record
    ro = web.post("/api/v1/incidents", json=DECLARE, headers=bearer(world.readonly))
    assert ro.status_code == 403 and "incidents:write" in ro.json()["detail"]
