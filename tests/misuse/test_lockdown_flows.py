"""A locked-down client's flows: refused however they were started, except on an admin's grant.

`execution.plan` is where every procedure flow starts (a schedule, a run by hand on the
Prefect server, a door of opsbinder); these call it as the flow's task does.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.actions import procedures as actions
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.errors import Forbidden
from opsbinder.handover import lockdown
from opsbinder.procedures.execution import plan
from opsbinder.run_grants import VALID_FOR
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Procedure, RunGrant
from opsbinder.sync import sync_binder

ADMIN = Principal("ada", "cli", role="admin")
KEY = "check-disk-space"


@pytest.fixture
def locked(store: Engine, clock: FrozenClock, example_dir: Path) -> Engine:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    # the setup would run: nothing but the lockdown stands in the way
    assert _why_not(store, clock) is None
    with session_scope(store) as s:
        lockdown.lock_down(s, "nordhafen", clock, principal=Principal.operator("lena"))
    return store


def _why_not(store: Engine, clock: FrozenClock) -> str | None:
    return plan(
        store, client_id="nordhafen", procedure_id=KEY, kind=None, instant=clock.now()
    ).suppressed


def _refusals(store: Engine) -> list[AuditEntry]:
    with session_scope(store) as s:
        return list(
            s.execute(select(AuditEntry).where(AuditEntry.action == "access.refused")).scalars()
        )


def _request(store: Engine, clock: FrozenClock, who: Principal) -> None:
    with session_scope(store) as s:
        proc = s.execute(
            select(Procedure).where(Procedure.client_id == "nordhafen", Procedure.key == KEY)
        ).scalar_one()
        actions.request_run(s, clock, who, proc, how="in-process")


def test_it_refuses_a_flow_of_a_locked_down_client_and_records_why(
    locked: Engine, clock: FrozenClock
) -> None:
    reason = _why_not(locked, clock)
    assert reason is not None and "locked down" in reason
    [refusal] = _refusals(locked)
    assert refusal.details["door"] == "flow" and refusal.object_id == f"nordhafen/{KEY}"


def test_it_lets_exactly_one_flow_run_on_an_admins_request(
    locked: Engine, clock: FrozenClock
) -> None:
    _request(locked, clock, ADMIN)
    assert _why_not(locked, clock) is None
    assert _why_not(locked, clock) is not None  # one grant, one run
    with session_scope(locked) as s:
        [grant] = s.execute(select(RunGrant)).scalars()
        assert grant.granted_by == "ada" and grant.used_at is not None


def test_it_lets_an_unclaimed_grant_expire(locked: Engine, clock: FrozenClock) -> None:
    _request(locked, clock, ADMIN)
    clock.advance(VALID_FOR + timedelta(seconds=1))
    assert _why_not(locked, clock) is not None


def test_it_refuses_a_run_request_of_anyone_else_and_leaves_no_grant(
    locked: Engine, clock: FrozenClock
) -> None:
    for who in (
        Principal.operator("lena"),
        Principal("mark", "cli", role="L3"),
        Principal("token:obk_x", "api", scopes=frozenset({"procedures:run"})),
        Principal(
            "mark (token obk_y)", "api", role="manager", scopes=frozenset({"procedures:run"})
        ),
    ):
        with pytest.raises(Forbidden, match="locked down"):
            _request(locked, clock, who)
    assert len(_refusals(locked)) == 4  # each refusal kept, though its transaction rolled back
    with session_scope(locked) as s:
        assert s.execute(select(RunGrant)).first() is None
    assert _why_not(locked, clock) is not None
