"""What a run is told before it starts: a paused procedure's scheduled run is skipped, a run by
hand is not; a paused client pauses all of its procedures."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.procedures.execution import plan
from opsbinder.store.db import session_scope
from tests.procedures.binders import client_binder, load, procedure

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)


def _why_not(store: Engine, *, scheduled: bool) -> str | None:
    return plan(
        store,
        client_id="acme",
        procedure_id="sign-off",
        kind="manual",
        instant=NOW,
        scheduled=scheduled,
    ).suppressed


def test_it_skips_the_scheduled_run_of_a_paused_procedure_or_client_not_a_run_by_hand(
    store: Engine, clock: FrozenClock
) -> None:
    load(store, clock, client_binder([], [procedure("sign-off", "manual")]))
    assert _why_not(store, scheduled=True) is None  # runs while nothing is paused

    with session_scope(store) as session:
        set_paused(session, PauseTarget("acme", "sign-off"), True, clock, "mona")
    assert _why_not(store, scheduled=True) == (
        "paused: scheduled runs wait for `opsbinder resume sign-off`"
    )
    assert _why_not(store, scheduled=False) is None

    with session_scope(store) as session:
        set_paused(session, PauseTarget("acme", "sign-off"), False, clock, "mona")
        set_paused(session, PauseTarget("acme", None), True, clock, "mona")
    assert _why_not(store, scheduled=True) == (
        "paused: client acme is paused (opsbinder resume --client acme)"
    )
