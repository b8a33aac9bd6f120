"""A lockdown that locks, through the web doors of a served app (uvicorn on a real port).

After `lockdown`, nothing but an admin acts on the client: not an L2 in the console, not a
token of another provider scoped to the client, not a token without a client scope, not a
token of a senior user. Every refusal is a 403 with an audit entry and changes nothing; an
admin (signed in, or by an admin's token) still acts; another client is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, select

from opsbinder import accounts
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock
from opsbinder.handover import lockdown
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure
from tests.web.conftest import PASSWORD, World, sign_in
from tests.web.doors import ACTIONS, door_for, happened, prepare, refusals, through_api
from tests.web.doors import through_console as through_form


@pytest.fixture
def tokens(store: Engine, clock: FrozenClock, world: World) -> dict[str, str]:
    """Staff and every kind of token; then nordhafen is locked down (as a person would)."""
    scopes = list(accounts.SCOPES)
    with session_scope(store) as s:
        for name, role in (("mark", "L2"), ("priya", "L3"), ("ada", "admin")):
            accounts.add_user(s, clock, username=name, role=role, password=PASSWORD, actor="t")

        def token(name: str, **kwargs: str) -> accounts.IssuedToken:
            return accounts.issue_api_token(s, clock, name=name, scopes=scopes, actor="t", **kwargs)

        issued = {
            "successor, scoped to the client": token("newco", client_id="nordhafen"),
            "service, every client": token("robot"),
            "L3 user, every client": token("priya", username="priya"),
            "admin user": token("ada", username="ada"),
        }
        issued["successor, scoped to the client"].row.provider = "newco"  # survives the lockdown
        plain = {label: t.token for label, t in issued.items()}
    with session_scope(store) as s:
        lockdown.lock_down(s, "nordhafen", clock, principal=Principal.operator("lena"))
    return plain


@pytest.fixture
def client(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server) as http:
        yield http


def test_it_refuses_everyone_but_an_admin_in_the_console(
    client: httpx.Client,
    store: Engine,
    clock: FrozenClock,
    tokens: dict[str, str],
    launched: list[object],
) -> None:
    sign_in(client, "mark")  # L2: pauses, resumes and runs any other day
    assert "locked down: admins only" in client.get("/console/procedures?client=nordhafen").text
    for action in ACTIONS:
        object_id = prepare(store, clock, action)
        launched.clear()
        before = refusals(store)
        path, form = door_for(action, object_id).console
        assert not through_form(client, path, form), action
        assert not happened(store, action, object_id, launched), action
        assert refusals(store) == before + 1, action
    # the same L2 on a client that is not locked down: the refusals were the lockdown's
    with session_scope(store) as s:
        other = s.execute(
            select(Procedure.id).where(Procedure.client_id == "lindqvist").limit(1)
        ).scalar_one()
    assert through_form(client, f"/console/procedures/{other}/pause", {})
    client.cookies.clear()
    sign_in(client, "ada")
    for action in ACTIONS:
        object_id = prepare(store, clock, action)
        launched.clear()
        path, form = door_for(action, object_id).console
        assert through_form(client, path, form), action
        assert happened(store, action, object_id, launched), action


@pytest.mark.parametrize(
    "holder",
    ["successor, scoped to the client", "service, every client", "L3 user, every client"],
)
def test_it_refuses_every_token_but_an_admins_in_the_api(
    client: httpx.Client,
    store: Engine,
    clock: FrozenClock,
    tokens: dict[str, str],
    launched: list[object],
    holder: str,
) -> None:
    for action in ACTIONS:
        object_id = prepare(store, clock, action)
        launched.clear()
        before = refusals(store)
        path, body = door_for(action, object_id).api
        answer = client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[holder]}"})
        assert answer.status_code == 403, (holder, action, answer.status_code, answer.text)
        assert "locked down" in answer.json()["detail"]
        assert not happened(store, action, object_id, launched), (holder, action)
        assert refusals(store) == before + 1, (holder, action)
    # and an admin's token does them all
    for action in ACTIONS:
        object_id = prepare(store, clock, action)
        launched.clear()
        path, body = door_for(action, object_id).api
        assert through_api(client, tokens["admin user"], path, body), action
        assert happened(store, action, object_id, launched), action
