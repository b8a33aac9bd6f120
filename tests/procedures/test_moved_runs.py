"""A run on a holiday that says `then: next_working_day` is skipped, then started once on the
next working day by the sweep's "moved runs" step."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from opsbinder import moved_runs
from opsbinder.clock import FrozenClock
from opsbinder.incidents import missed_runs
from opsbinder.procedures import execution
from opsbinder.store.db import session_scope
from opsbinder.store.models import Run
from tests.procedures.binders import client_binder, load, procedure

CHRISTMAS = {"date": "2026-12-25", "name": "Christmas", "then": "next_working_day"}
ON_THE_DAY = datetime(2026, 12, 25, 5, 0, tzinfo=UTC)  # 06:00 in Berlin, a Friday
MONDAY = datetime(2026, 12, 28, 5, 0, tzinfo=UTC)


def _load(store: Engine, holiday: dict[str, str]) -> None:
    weekly = procedure("weekly-check", "manual", schedule={"cron": "0 6 * * 5",
                                                            "timezone": "Europe/Berlin"})  # fmt: skip
    load(store, FrozenClock(datetime(2026, 12, 1, tzinfo=UTC)),
         client_binder([], [weekly], holidays=[holiday]))  # fmt: skip


def _started(store: Engine, at: datetime) -> list[tuple[str, str, str]]:
    launched: list[tuple[str, str, str]] = []
    moved_runs.start_due(store, FrozenClock(at), lambda *args: launched.append(args))
    return launched


def _skip_on_the_day(store: Engine) -> str:
    plan = execution.plan(store, client_id="acme", procedure_id="weekly-check", kind=None,
                          instant=ON_THE_DAY, scheduled=True)  # fmt: skip
    assert plan.skip_reason(dry_run=False) == plan.calendar
    execution.skip(store, FrozenClock(ON_THE_DAY), plan, reason=str(plan.calendar),
                   flow_run_id=None, scheduled_for=ON_THE_DAY, dry_run=False, actor="scheduler")  # fmt: skip
    return str(plan.calendar)


def test_it_starts_the_moved_run_once_on_the_next_working_day(store: Engine) -> None:
    _load(store, CHRISTMAS)
    reason = _skip_on_the_day(store)
    assert (
        reason
        == "holiday 2026-12-25 Christmas: moved to the next working day, Mon 2026-12-28 06:00"
    )
    assert _started(store, datetime(2026, 12, 28, 4, 59, tzinfo=UTC)) == []  # not yet
    assert _started(store, MONDAY) == [("acme", "weekly-check", "calendar")]
    assert _started(store, MONDAY) == []  # once
    with session_scope(store) as session:
        run = session.execute(select(Run)).scalar_one()
        assert run.outcome == "skipped"
        assert run.reason == reason + " (the moved run was started)"


def test_it_only_skips_on_a_holiday_that_does_not_move_runs(store: Engine) -> None:
    _load(store, {**CHRISTMAS, "then": "skip"})
    assert _skip_on_the_day(store) == "holiday 2026-12-25 Christmas"
    assert _started(store, MONDAY) == []


def test_it_moves_a_run_the_missed_run_watch_found_suppressed(store: Engine) -> None:
    """No flow ran on the holiday (serve was down): the watch records the skip, and the move."""
    _load(store, CHRISTMAS)
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 12, 25, 7, tzinfo=UTC)))
    assert report.skipped == ["acme/weekly-check@2026-12-25T05:00:00+00:00"]
    assert _started(store, MONDAY) == [("acme", "weekly-check", "calendar")]
