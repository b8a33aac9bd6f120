"""One rule for both doors: every action, for every role, through the console and the API.

Each role signs in to the console (form posts with the session's CSRF token) and holds an
all-scope API token tied to its user. Every action is tried through both doors on an object
prepared for it, and both doors must agree with the table below (stated here, independently of
the code), change the store exactly when allowed, and audit every refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, IncidentEvent, Procedure, StatusUpdate
from tests.web.conftest import PASSWORD, World, csrf_of, sign_in

ROLES = ("L1", "L2", "L3", "manager", "admin")
INCIDENT = ("acknowledge", "resolve", "reopen", "note", "assign", "stakeholder", "commander")
EVERYONE = {*INCIDENT, "post_update", "run"}
ALLOWED = {
    "L1": EVERYONE,
    "L2": EVERYONE | {"pause", "resume"},
    "L3": EVERYONE | {"pause", "resume"},
    "manager": EVERYONE | {"pause", "resume"},
    "admin": EVERYONE | {"pause", "resume"},
}
UPDATE = {"current_status": "Restoring", "next_steps": "Verify", "business_impact": "Orders down"}
_numbers = count(1)


@dataclass(frozen=True)
class Door:
    """How one action goes through one door: (path, form or JSON body)."""

    console: tuple[str, dict[str, str]]
    api: tuple[str, dict[str, object]]


def _door(action: str, object_id: int) -> Door:
    inc, proc = f"/console/incidents/{object_id}", f"/console/procedures/{object_id}"
    api, api_proc = f"/api/v1/incidents/{object_id}", f"/api/v1/procedures/{object_id}"
    return {
        "acknowledge": Door((f"{inc}/ack", {}), (f"{api}/acknowledge", {})),
        "resolve": Door((f"{inc}/resolve", {}), (f"{api}/resolve", {})),
        "reopen": Door((f"{inc}/reopen", {}), (f"{api}/reopen", {})),
        "note": Door((f"{inc}/note", {"message": "db ok"}), (f"{api}/notes", {"message": "db ok"})),
        "assign": Door(
            (f"{inc}/assign", {"assignee": "priya-nair"}),
            (f"{api}/assign", {"assignee": "priya-nair"}),
        ),
        "stakeholder": Door(
            (f"{inc}/stakeholders", {"contact": "mark-olsen"}),
            (f"{api}/stakeholders", {"contact": "mark-olsen"}),
        ),
        "commander": Door(
            (f"{inc}/commander", {"contact": "mark-olsen"}),
            (f"{api}/commander", {"contact": "mark-olsen"}),
        ),
        "post_update": Door(
            (f"{inc}/updates", {**UPDATE, "force": "1"}),
            (f"{api}/updates", {**UPDATE, "force": True}),
        ),
        "run": Door((f"{proc}/run", {}), (f"{api_proc}/run", {})),
        "pause": Door((f"{proc}/pause", {}), (f"{api_proc}/pause", {})),
        "resume": Door((f"{proc}/resume", {}), (f"{api_proc}/resume", {})),
    }[action]


def _fresh_incident(store: Engine, clock: FrozenClock, *, resolved: bool = False) -> int:
    with session_scope(store) as s:
        incident = lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key=None,
            dedup_key=f"door-test:{next(_numbers)}",
            title="door test",
            severity="sev1",
            details={},
        )
        if resolved:
            lifecycle.resolve(s, clock, incident.id, actor="test")
        return incident.id


def _procedure(store: Engine, *, paused: bool) -> int:
    with session_scope(store) as s:
        proc = s.execute(
            select(Procedure).where(
                Procedure.client_id == "nordhafen", Procedure.key == "check-disk-space"
            )
        ).scalar_one()
        proc.paused = paused
        return proc.id


def prepare(store: Engine, clock: FrozenClock, action: str) -> int:
    """An object on which `action` can succeed, so any refusal is the rule's."""
    if action in ("run", "pause"):
        return _procedure(store, paused=False)
    if action == "resume":
        return _procedure(store, paused=True)
    return _fresh_incident(store, clock, resolved=action == "reopen")


def happened(store: Engine, action: str, object_id: int, launched: list[object]) -> bool:
    with session_scope(store) as s:
        if action in ("run", "pause", "resume"):
            proc = s.get(Procedure, object_id)
            assert proc is not None
            return {
                "run": bool(launched),
                "pause": proc.paused,
                "resume": not proc.paused,
            }[action]
        incident = s.get(Incident, object_id)
        assert incident is not None
        kinds = set(
            s.execute(
                select(IncidentEvent.kind).where(IncidentEvent.incident_id == object_id)
            ).scalars()
        )
        updates = s.execute(select(StatusUpdate).where(StatusUpdate.incident_id == object_id))
        checks: dict[str, Callable[[], bool]] = {
            "acknowledge": lambda: incident.state == "acknowledged",
            "resolve": lambda: incident.state == "resolved",
            "reopen": lambda: incident.state == "triggered",
            "note": lambda: "note" in kinds,
            "assign": lambda: incident.assignee == "priya-nair",
            "stakeholder": lambda: "stakeholder_added" in kinds,
            "commander": lambda: incident.commander == "mark-olsen",
            "post_update": lambda: updates.first() is not None,
        }
        return checks[action]()


def refusals(store: Engine) -> int:
    with session_scope(store) as s:
        return len(
            s.execute(select(AuditEntry.id).where(AuditEntry.action == "access.refused")).all()
        )


@pytest.fixture
def staff(store: Engine, clock: FrozenClock, world: World) -> dict[str, str]:
    """A console user of every role, each with an all-scope API token acting for them."""
    tokens = {}
    with session_scope(store) as s:
        for role in ROLES:
            name = f"user-{role.lower()}"
            accounts.add_user(s, clock, username=name, role=role, password=PASSWORD, actor="t")
            tokens[role] = accounts.issue_api_token(
                s, clock, name=name, scopes=list(accounts.SCOPES), actor="t", username=name
            ).token
    return tokens


def _through_console(web: TestClient, path: str, form: dict[str, str]) -> bool:
    csrf = csrf_of(web.get("/console/procedures").text)
    answer = web.post(path, data={"csrf": csrf, **form}, follow_redirects=False)
    assert answer.status_code in (303, 403), (path, answer.status_code, answer.text[:300])
    if answer.status_code == 303:
        flashed = web.get(answer.headers["location"]).text
        assert 'class="flash flash-error"' not in flashed, (path, flashed)
    return answer.status_code == 303


def _through_api(web: TestClient, token: str, path: str, body: dict[str, object]) -> bool:
    answer = web.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code in (200, 201, 403), (path, answer.status_code, answer.text[:300])
    return answer.status_code != 403


@pytest.mark.parametrize("role", ROLES)
def test_it_gives_every_role_the_same_answer_through_the_console_and_the_api(
    web: TestClient,
    store: Engine,
    clock: FrozenClock,
    staff: dict[str, str],
    launched: list[object],
    role: str,
) -> None:
    sign_in(web, f"user-{role.lower()}")
    answers = {}
    for action in (*INCIDENT, "post_update", "run", "pause", "resume"):
        per_door = []
        for door in ("console", "api"):
            object_id = prepare(store, clock, action)
            launched.clear()
            before = refusals(store)
            path, body = getattr(_door(action, object_id), door)
            allowed = (
                _through_console(web, path, body)
                if door == "console"
                else _through_api(web, staff[role], path, body)
            )
            assert happened(store, action, object_id, launched) == allowed, (door, action)
            assert refusals(store) == before + (0 if allowed else 1), (door, action)
            per_door.append(allowed)
        answers[action] = per_door
    assert {a for a, doors in answers.items() if doors == [True, True]} == ALLOWED[role]
    assert {a for a, doors in answers.items() if doors == [False, False]} == (
        set(answers) - ALLOWED[role]
    )


def test_it_answers_404_to_a_client_scoped_token_for_every_action_on_another_client(
    web: TestClient, store: Engine, clock: FrozenClock, world: World, launched: list[object]
) -> None:
    for action in (*INCIDENT, "post_update", "run", "pause", "resume"):
        object_id = prepare(store, clock, action)
        path, body = _door(action, object_id).api
        answer = web.post(path, json=body, headers={"Authorization": f"Bearer {world.api_b}"})
        assert answer.status_code == 404, (action, answer.status_code)
        assert "nordhafen" not in answer.text
        assert not happened(store, action, object_id, launched), action
        # the same token of the object's own client is let through: the 404 is the scope's
        own = web.post(path, json=body, headers={"Authorization": f"Bearer {world.api_a}"})
        assert own.status_code in (200, 201), (action, own.status_code, own.text)
