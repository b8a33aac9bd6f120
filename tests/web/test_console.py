"""The operations console over HTTP: sign-in, CSRF, actions audited with the signed-in actor."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, Procedure, StatusUpdate
from tests.web.conftest import PASSWORD, csrf_of, sign_in

UPDATE = {
    "current_status": "Restoring <b>TMS</b> from backup",
    "business_impact": "Scanners offline in warehouse 2",
    "next_steps": "Replay WAL, then re-enable scanners",
    "bridge_url": "https://meet.example/sev1",
}


def test_it_sends_visitors_without_a_session_to_the_sign_in_page(web, world):
    answer = web.get(f"/console/incidents/{world.incident_a}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/console/incidents/{world.incident_a}"


def test_it_refuses_a_wrong_password_and_audits_the_attempt(web, world, store):
    page = web.get("/login")
    answer = web.post(
        "/login",
        data={"username": "alice", "password": "wrong password!", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert "Unknown user or wrong password" in web.get(answer.headers["location"]).text
    assert web.get("/console/incidents", follow_redirects=False).status_code == 303
    with session_scope(store) as s:
        assert s.execute(
            select(AuditEntry).where(AuditEntry.action == "user.sign_in_failed")
        ).first()


def test_it_rejects_forms_without_the_session_csrf_token(web, world, store):
    sign_in(web)
    for token in ("", "forged"):
        answer = web.post(f"/console/incidents/{world.incident_a}/ack", data={"csrf": token})
        assert answer.status_code == 403
    with session_scope(store) as s:
        assert s.get(Incident, world.incident_a).state == "triggered"
    login = web.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": "x"})
    assert login.status_code == 403


def test_it_acknowledges_posts_an_update_and_audits_both_with_the_user(web, world, store, clock):
    sign_in(web)
    page = web.get(f"/console/incidents/{world.incident_a}")
    assert page.status_code == 200 and "TMS backup missing" in page.text
    csrf = csrf_of(page.text)
    answer = web.post(f"/console/incidents/{world.incident_a}/ack", data={"csrf": csrf})
    assert answer.status_code == 200 and "acknowledged" in answer.text
    answer = web.post(
        f"/console/incidents/{world.incident_a}/updates", data={"csrf": csrf, **UPDATE}
    )
    assert "Status update #1 posted" in answer.text
    # escaped, not interpreted
    assert "Restoring &lt;b&gt;TMS&lt;/b&gt;" in answer.text and "<b>TMS</b>" not in answer.text
    assert "Hash chain verified" in answer.text
    # too soon for another: refused, shown, nothing written
    clock.advance(timedelta(minutes=20))
    answer = web.post(
        f"/console/incidents/{world.incident_a}/updates", data={"csrf": csrf, **UPDATE}
    )
    assert answer.status_code == 409 and "insist with force" not in answer.text
    assert "Next update allowed from" in answer.text and "Post anyway" in answer.text
    with session_scope(store) as s:
        assert s.get(Incident, world.incident_a).acknowledged_by == "alice"
        assert [u.seq for u in s.execute(select(StatusUpdate)).scalars()] == [1]
        actions = {
            (a.action, a.actor)
            for a in s.execute(select(AuditEntry).where(AuditEntry.actor == "alice")).scalars()
        }
    assert {("incident.acknowledged", "alice"), ("incident.status_update", "alice")} <= actions


def test_it_takes_the_next_update_time_in_the_clients_zone(web, world, store, clock):
    sign_in(web)
    csrf = csrf_of(web.get(f"/console/incidents/{world.incident_a}").text)
    # clock: 2026-03-20 10:00 UTC = 11:00 in Berlin; 13:30 Berlin = 12:30 UTC
    web.post(
        f"/console/incidents/{world.incident_a}/updates",
        data={"csrf": csrf, **UPDATE, "next_update_at": "2026-03-20T13:30"},
    )
    with session_scope(store) as s:
        row = s.execute(select(StatusUpdate)).scalar_one()
        assert row.next_update_at.strftime("%H:%M") in {"12:30"}  # stored as UTC


def test_it_filters_the_incident_list(web, world):
    sign_in(web)
    both = web.get("/console/incidents").text
    assert "TMS backup missing (nordhafen)" in both and "TMS backup missing (lindqvist)" in both
    one = web.get("/console/incidents?client=lindqvist&severity=sev1&state=triggered").text
    assert "(lindqvist)" in one and "(nordhafen)" not in one
    assert "No incidents match" in web.get("/console/incidents?severity=sev4").text


def test_it_pauses_and_resumes_a_procedure_only_for_senior_roles(web, world, store, launched):
    with session_scope(store) as s:
        proc_id = s.execute(
            select(Procedure.id).where(
                Procedure.client_id == "nordhafen", Procedure.key == "check-disk-space"
            )
        ).scalar_one()
    sign_in(web)  # alice is L1
    csrf = csrf_of(web.get("/console/procedures").text)
    assert web.post(f"/console/procedures/{proc_id}/pause", data={"csrf": csrf}).status_code == 403
    web.post("/logout", data={"csrf": csrf})
    sign_in(web, "mona")
    page = web.get("/console/procedures")
    assert "check-disk-space" in page.text
    csrf = csrf_of(page.text)
    assert "paused" in web.post(f"/console/procedures/{proc_id}/pause", data={"csrf": csrf}).text
    with session_scope(store) as s:
        assert s.get(Procedure, proc_id).paused
    answer = web.post(f"/console/procedures/{proc_id}/run", data={"csrf": csrf})
    assert "nordhafen/check-disk-space: run started" in answer.text
    assert launched == [("nordhafen", "check-disk-space", "mona")]
    web.post(f"/console/procedures/{proc_id}/resume", data={"csrf": csrf})
    with session_scope(store) as s:
        assert not s.get(Procedure, proc_id).paused
        actions = [
            a.action
            for a in s.execute(select(AuditEntry).where(AuditEntry.actor == "mona")).scalars()
        ]
    assert {"procedure.paused", "procedure.resumed", "procedure.run_requested"} <= set(actions)


def test_it_shows_who_is_on_call(web, world):
    sign_in(web)
    page = web.get("/console/oncall")
    assert page.status_code == 200
    assert "Nordhafen Logistik GmbH" in page.text
    # one of the example's L1 rotation members is on call
    assert any(name in page.text for name in ("Lena Fischer", "Tom Berger", "Ayşe Demir"))
