"""One rule for both doors: every action, for every role, through the console and the API.

Each role signs in to the console (form posts with the session's CSRF token) and holds an
all-scope API token tied to its user. Every action is tried through both doors on an object
prepared for it, and both doors must agree with the table below (stated here, independently of
the code), change the store exactly when allowed, and audit every refusal.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from tests.web.conftest import PASSWORD, World, sign_in
from tests.web.doors import (
    ACTIONS,
    door_for,
    happened,
    prepare,
    refusals,
    through_api,
    through_console,
)

ROLES = ("L1", "L2", "L3", "manager", "admin")
EVERYONE = {
    *("acknowledge", "resolve", "reopen", "note", "assign", "stakeholder", "commander"),
    *("declare", "severity", "duplicate", "publish", "wait"),
    *("post_update", "run"),
}
ALLOWED = {
    "L1": EVERYONE,
    "L2": EVERYONE | {"pause", "resume"},
    "L3": EVERYONE | {"pause", "resume"},
    "manager": EVERYONE | {"pause", "resume"},
    "admin": EVERYONE | {"pause", "resume"},
}


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
    for action in ACTIONS:
        per_door = []
        for door in ("console", "api"):
            object_id = prepare(store, clock, action)
            launched.clear()
            before = refusals(store)
            path, body = getattr(door_for(action, object_id), door)
            allowed = (
                through_console(web, path, body)
                if door == "console"
                else through_api(web, staff[role], path, body)
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
    for action in ACTIONS:
        object_id = prepare(store, clock, action)
        path, body = door_for(action, object_id).api
        answer = web.post(path, json=body, headers={"Authorization": f"Bearer {world.api_b}"})
        assert answer.status_code == 404, (action, answer.status_code)
        # declaring names the client asked for, as it names one that does not exist: no more
        assert "nordhafen" not in answer.text.replace("no client 'nordhafen'", ""), action
        assert not happened(store, action, object_id, launched), action
        # the same token of the object's own client is let through: the 404 is the scope's
        own = web.post(path, json=body, headers={"Authorization": f"Bearer {world.api_a}"})
        assert own.status_code in (200, 201), (action, own.status_code, own.text)
