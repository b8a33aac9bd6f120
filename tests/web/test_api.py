"""The JSON API: bearer tokens with scopes, the same actions as the console, append-only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import AccessToken, AuditEntry, IncidentEvent, StatusUpdate, User

UPDATE = {
    "current_status": "Failing over the TMS database",
    "next_steps": "Verify replication, re-point the app",
    "business_impact": "Order entry is down",
    "bridge_url": "https://meet.example/b",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_it_serves_the_openapi_document_with_bearer_auth(web, world):
    doc = web.get("/openapi.json").json()
    assert "/api/v1/incidents/{incident_id}/updates" in doc["paths"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert not any(p.startswith("/console") or p.startswith("/status") for p in doc["paths"])


def test_it_answers_401_without_a_token_and_403_without_the_scope(web, world):
    assert web.get("/api/v1/incidents").status_code == 401
    assert web.get("/api/v1/incidents", headers=bearer("obk_nonsense")).status_code == 401
    ro = bearer(world.readonly)
    assert web.get("/api/v1/incidents", headers=ro).status_code == 200
    answer = web.post(f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=ro)
    assert answer.status_code == 403 and "incidents:write" in answer.json()["detail"]


def test_it_acknowledges_and_posts_updates_audited_with_the_tokens_user(web, world, store, clock):
    with session_scope(store) as s:  # the world's Severity-1 opening was audited before this
        opened = s.execute(select(func.max(AuditEntry.id))).scalar_one()
    auth = bearer(world.api_staff)
    answer = web.post(f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=auth)
    assert answer.status_code == 200 and answer.json()["state"] == "acknowledged"
    again = web.post(f"/api/v1/incidents/{world.incident_a}/acknowledge", headers=auth)
    assert again.status_code == 409
    posted = web.post(f"/api/v1/incidents/{world.incident_a}/updates", headers=auth, json=UPDATE)
    assert posted.status_code == 201, posted.text
    assert posted.json()["seq"] == 1
    clock.advance(timedelta(minutes=10))
    too_soon = web.post(f"/api/v1/incidents/{world.incident_a}/updates", headers=auth, json=UPDATE)
    assert too_soon.status_code == 409 and "force" in too_soon.json()["detail"]
    forced = web.post(
        f"/api/v1/incidents/{world.incident_a}/updates",
        headers=auth,
        json={**UPDATE, "force": True},
    )
    assert forced.status_code == 201
    listed = web.get(f"/api/v1/incidents/{world.incident_a}/updates", headers=auth).json()
    assert listed["chain_ok"] is True and [u["seq"] for u in listed["updates"]] == [2, 1]
    note = web.post(
        f"/api/v1/incidents/{world.incident_a}/notes", headers=auth, json={"message": "db ok"}
    )
    assert note.status_code == 201
    resolved = web.post(f"/api/v1/incidents/{world.incident_a}/resolve", headers=auth)
    assert resolved.json()["state"] == "resolved"
    with session_scope(store) as s:
        actors = {
            a.actor
            for a in s.execute(
                select(AuditEntry).where(
                    AuditEntry.object_id == str(world.incident_a), AuditEntry.id > opened
                )
            ).scalars()
            if a.action != "incident.notify_skipped"
        }
    assert len(actors) == 1 and actors.pop().startswith("alice (token obk_")


def test_it_rejects_invalid_update_fields_with_422(web, world):
    auth = bearer(world.api_staff)
    url = f"/api/v1/incidents/{world.incident_a}/updates"
    assert web.post(url, headers=auth, json={**UPDATE, "current_status": ""}).status_code == 422
    bad_link = web.post(url, headers=auth, json={**UPDATE, "bridge_url": "javascript:x"})
    assert bad_link.status_code == 422 and "bridge_url" in bad_link.json()["detail"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_it_has_no_way_to_edit_or_delete_updates_or_incidents(web, world, store, method):
    auth = bearer(world.api_staff)
    web.post(f"/api/v1/incidents/{world.incident_a}/updates", headers=auth, json=UPDATE)
    with session_scope(store) as s:
        before = [
            (u.seq, u.current_status, u.hash) for u in s.execute(select(StatusUpdate)).scalars()
        ]
        events_before = s.execute(select(IncidentEvent.id)).all()
    paths = [
        f"/api/v1/incidents/{world.incident_a}",
        f"/api/v1/incidents/{world.incident_a}/updates",
        f"/api/v1/incidents/{world.incident_a}/updates/1",
        f"/console/incidents/{world.incident_a}",
        f"/console/incidents/{world.incident_a}/updates",
        "/status/nordhafen",
    ]
    for path in paths:
        answer = web.request(method, path, headers=auth, json={"current_status": "edited"})
        assert answer.status_code in {404, 405}, (method, path, answer.status_code)
    # and no route of the app declares these methods at all
    doc = web.get("/openapi.json").json()
    for item in doc["paths"].values():
        assert method.lower() not in item
    with session_scope(store) as s:
        after = [
            (u.seq, u.current_status, u.hash) for u in s.execute(select(StatusUpdate)).scalars()
        ]
        assert after == before and len(after) == 1
        assert s.execute(select(IncidentEvent.id)).all() == events_before


def test_it_stores_tokens_and_passwords_only_as_hashes(store, world):
    with session_scope(store) as s:
        hashes = {t.token_hash for t in s.execute(select(AccessToken)).scalars()}
        passwords = [u.password_hash for u in s.execute(select(User)).scalars()]
    for token in (world.status_a, world.api_staff):
        assert token not in hashes and len(next(iter(hashes))) == 64
    assert all(p.startswith("$argon2id$") for p in passwords)


def test_it_lists_procedures_and_pauses_one_with_the_run_scope(web, world, store):
    auth = bearer(world.api_a)
    procs = web.get("/api/v1/procedures", headers=auth).json()
    assert procs and {p["client_id"] for p in procs} == {"nordhafen"}
    first = procs[0]
    answer = web.post(f"/api/v1/procedures/{first['id']}/pause", headers=auth)
    assert answer.status_code == 200 and "paused" in answer.json()["message"]
    assert web.post(f"/api/v1/procedures/{first['id']}/explode", headers=auth).status_code == 422
    run = web.post(f"/api/v1/procedures/{first['id']}/run", headers=auth)
    assert run.status_code == 200


def test_it_lists_and_adds_stakeholders_and_shows_who_is_on_call(web, world):
    auth = bearer(world.api_a)
    url = f"/api/v1/incidents/{world.incident_a}/stakeholders"
    before = {p["contact"] for p in web.get(url, headers=auth).json()}
    assert before == {"dirk-hansen", "sabine-kurz", "jonas-weber"}
    added = web.post(url, headers=auth, json={"contact": "mark-olsen"})
    assert added.status_code == 201 and added.json()["source"] == "added"
    again = web.post(url, headers=auth, json={"contact": "mark-olsen"})
    assert again.status_code == 409
    unknown = web.post(url, headers=auth, json={"contact": "nobody"})
    assert unknown.status_code == 404
    oncall = web.get("/api/v1/oncall", headers=auth).json()
    assert oncall and {row["client_id"] for row in oncall} == {"nordhafen"}


def test_it_sends_headers_that_keep_tokens_and_scripts_in(web, world):
    page = web.get(f"/status/nordhafen?token={world.status_a}")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_it_refuses_revoked_and_expired_tokens(web, world, store, clock):
    from opsbinder import accounts

    with session_scope(store) as s:
        accounts.revoke_token(s, clock, prefix=world.readonly[:12], actor="test")
        short = accounts.issue_api_token(
            s,
            clock,
            name="short",
            scopes=["incidents:read"],
            actor="test",
            expires_at=clock.now() + timedelta(minutes=5),
        ).token
    assert web.get("/api/v1/incidents", headers=bearer(world.readonly)).status_code == 401
    assert web.get("/api/v1/incidents", headers=bearer(short)).status_code == 200
    clock.advance(timedelta(minutes=6))
    assert web.get("/api/v1/incidents", headers=bearer(short)).status_code == 401
