"""The rule as a table: who may do what, stated here, checked against `decide` cell by cell."""

from __future__ import annotations

import pytest

from opsbinder.accounts import ROLES, SCOPES
from opsbinder.authorization import Action, Principal, decide

A = Action
INCIDENT = {
    *(A.DECLARE, A.ACKNOWLEDGE, A.RESOLVE, A.REOPEN, A.NOTE, A.ASSIGN, A.STAKEHOLDER),
    *(A.COMMANDER, A.SEVERITY, A.DUPLICATE, A.WAIT),
}
UPDATES = {A.POST_UPDATE, A.PUBLISH}
STAFF = INCIDENT | UPDATES | {A.RUN, A.SIGN_OFF, A.RESTORE_ARCHIVE, A.LOAD_BINDER, A.LOCK_DOWN}
SENIOR = STAFF | {A.PAUSE, A.RESUME, A.INTEGRATION_KEY}
BY_ROLE = {"L1": STAFF, "L2": SENIOR, "L3": SENIOR, "manager": SENIOR, "admin": set(Action)}
BY_SCOPE = {
    "incidents:write": INCIDENT,
    "updates:write": UPDATES,
    "procedures:run": {A.RUN, A.PAUSE, A.RESUME},
}


def allowed(principal: Principal, *, locked_down: bool = False) -> set[Action]:
    return {a for a in Action if decide(principal, a, locked_down=locked_down) is None}


@pytest.mark.parametrize("role", ROLES)
def test_it_lets_a_console_user_do_what_the_role_may(role: str) -> None:
    assert allowed(Principal("u", "console", role=role)) == BY_ROLE[role]


@pytest.mark.parametrize("scope", sorted(BY_SCOPE))
def test_it_lets_a_service_token_do_only_what_its_scopes_say(scope: str) -> None:
    token = Principal("token:obk_x", "api", scopes=frozenset({scope}))
    assert allowed(token) == BY_SCOPE[scope]
    everything = Principal("token:obk_y", "api", scopes=frozenset(SCOPES))
    assert allowed(everything) == set().union(*BY_SCOPE.values())


@pytest.mark.parametrize("role", ROLES)
def test_it_limits_a_users_token_by_its_scopes_and_by_the_users_role(role: str) -> None:
    token = Principal("u (token obk_x)", "api", role=role, scopes=frozenset(SCOPES))
    assert allowed(token) == BY_ROLE[role] & set().union(*BY_SCOPE.values())
    # the difference the doors once had: an L1 token may not pause, as L1 in the console
    assert (decide(token, A.PAUSE, locked_down=False) is None) == (role != "L1")


def test_it_trusts_the_cli_operator_as_before_but_never_as_an_admin() -> None:
    operator = Principal.operator("lena")
    assert allowed(operator) == SENIOR
    reason = decide(operator, A.LIFT_LOCKDOWN, locked_down=True)
    assert reason is not None and "only an admin may lift a lockdown" in reason
    assert "--admin USER" in reason


def test_it_names_the_missing_scope_and_the_role() -> None:
    reader = Principal("t", "api", scopes=frozenset({"incidents:read"}))
    assert "lacks the scope 'incidents:write'" in str(decide(reader, A.NOTE, locked_down=False))
    l1 = Principal("alice", "console", role="L1")
    assert decide(l1, A.PAUSE, locked_down=False) == "role L1 may not pause procedures"


@pytest.mark.parametrize(
    "principal",
    [
        *(Principal("u", "console", role=role) for role in ROLES if role != "admin"),
        Principal.operator("lena"),
        Principal("token:obk_x", "api", scopes=frozenset(SCOPES)),
        Principal("token:obk_c", "api", scopes=frozenset(SCOPES), client_id="nordhafen"),
        Principal("mark (token obk_y)", "api", role="L3", scopes=frozenset(SCOPES)),
        Principal("mark", "cli", role="manager"),
    ],
    ids=lambda p: f"{p.door}:{p.actor}:{p.role}",
)
def test_it_lets_nobody_but_an_admin_act_on_a_locked_down_client(principal: Principal) -> None:
    assert allowed(principal, locked_down=True) <= {A.LOCK_DOWN}
    reason = decide(principal, A.NOTE, locked_down=True)
    assert reason is not None
    if principal.scopes is None or "incidents:write" in principal.scopes:
        assert "locked down" in reason


def test_it_lets_an_admin_act_on_a_locked_down_client_through_every_door() -> None:
    assert allowed(Principal("ada", "console", role="admin"), locked_down=True) == set(Action)
    assert allowed(Principal("ada", "cli", role="admin"), locked_down=True) == set(Action)
    token = Principal("ada (token obk_z)", "api", role="admin", scopes=frozenset(SCOPES))
    assert allowed(token, locked_down=True) == set().union(*BY_SCOPE.values())
