"""A shadowed client: every run planned as a dry run, a missed or failed one never an incident,
and after `--until` still dry, saying how to go live; only `shadow-end` goes live."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from opsbinder import shadow
from opsbinder.clock import FrozenClock
from opsbinder.errors import BadInput, NotFound
from opsbinder.handover.importer import import_binder
from opsbinder.incidents import heartbeat_watch, missed_runs
from opsbinder.incidents.hook_reports import HookReport, apply
from opsbinder.procedures.execution import plan
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, Run

IMPORTED = datetime(2026, 3, 20, 12, tzinfo=UTC)
BACKUP = "check-tms-backup"  # 06:30 Europe/Berlin, 30 min grace


def _import(store: Engine, example_dir: Path, until: date | None) -> list[str]:
    with session_scope(store) as session:
        result = import_binder(
            session, example_dir, FrozenClock(IMPORTED), actor="succ", shadow_until=until
        )
        return list(result.shadows.values())


def _incidents(store: Engine) -> int:
    with session_scope(store) as session:
        return int(session.execute(select(func.count()).select_from(Incident)).scalar_one())


def _why(store: Engine, at: datetime) -> str | None:
    return plan(
        store, client_id="nordhafen", procedure_id=BACKUP, kind=None, instant=at, scheduled=True
    ).shadow


def test_it_forces_dry_runs_until_the_date_and_after_it_says_how_to_go_live(
    store: Engine, example_dir: Path
) -> None:
    assert _import(store, example_dir, date(2026, 3, 31)) == [
        "shadow run until 2026-03-31: a dry run, nothing changed"
    ]
    during = _why(store, datetime(2026, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 in Berlin
    assert during == "shadow run until 2026-03-31: a dry run, nothing changed"
    assert plan(
        store, client_id="nordhafen", procedure_id=BACKUP, kind=None,
        instant=IMPORTED, scheduled=False,
    ).dry_run(False)  # fmt: skip
    after = _why(store, datetime(2026, 3, 31, 22, 0, tzinfo=UTC))  # midnight in Berlin
    assert after == (
        "shadow period ended 2026-03-31: still a dry run until someone goes live with "
        "`opsbinder binder shadow-end --client nordhafen`"
    )

    with session_scope(store) as session:
        shadow.end(session, FrozenClock(datetime(2026, 4, 2, tzinfo=UTC)), "nordhafen", actor="x")
        actions = set(session.execute(select(AuditEntry.action)).scalars())
    assert {"binder.shadow_started", "binder.shadow_ended"} <= actions
    live = plan(
        store, client_id="nordhafen", procedure_id=BACKUP, kind=None,
        instant=datetime(2026, 4, 2, tzinfo=UTC), scheduled=True,
    )  # fmt: skip
    assert live.shadow is None and not live.dry_run(False)
    with pytest.raises(NotFound, match="not in a shadow period"), session_scope(store) as s:
        shadow.end(s, FrozenClock(IMPORTED), "nordhafen", actor="x")


def test_it_keeps_the_shadow_when_imported_again_without_shadow(
    store: Engine, example_dir: Path
) -> None:
    _import(store, example_dir, date(2026, 3, 31))
    assert _import(store, example_dir, None) == [
        "shadow run until 2026-03-31: a dry run, nothing changed"
    ]


def test_it_refuses_a_shadow_that_ended_before_today(store: Engine, example_dir: Path) -> None:
    with pytest.raises(BadInput, match=r"--until 2026-03-19: the shadow period must end today"):
        _import(store, example_dir, date(2026, 3, 19))
    with session_scope(store) as session:  # nothing imported: one transaction
        assert session.execute(select(func.count()).select_from(Run)).scalar_one() == 0
        assert shadow.current(session, "nordhafen") is None


def test_a_missed_shadow_run_is_recorded_as_a_dry_run_and_opens_no_incident(
    store: Engine, example_dir: Path
) -> None:
    _import(store, example_dir, date(2026, 3, 31))
    report = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 22, 6, 0, tzinfo=UTC)))

    assert f"nordhafen/{BACKUP}@2026-03-22T05:30:00+00:00" in report.missed
    assert _incidents(store) == 0
    with session_scope(store) as s:
        missed = s.execute(select(Run).where(Run.outcome == "missed")).scalars().all()
        assert missed and all(r.dry_run for r in missed)
        shadow.end(s, FrozenClock(datetime(2026, 3, 22, 7, 0, tzinfo=UTC)), "nordhafen", actor="x")
    # live: the shadow's slots are not missed again, the first live one that is opens one
    quiet = missed_runs.watch(store, FrozenClock(datetime(2026, 3, 22, 8, 0, tzinfo=UTC)))
    assert not [m for m in quiet.missed if BACKUP in m] and _incidents(store) == 0
    missed_runs.watch(store, FrozenClock(datetime(2026, 3, 23, 6, 0, tzinfo=UTC)))
    assert _incidents(store) >= 1


def test_a_failed_shadow_run_reported_as_real_by_its_flow_opens_no_incident(
    store: Engine, example_dir: Path
) -> None:
    report = HookReport(
        kind="failure", client_id="nordhafen", procedure_key=BACKUP, flow_run_id=None,
        state_name="Failed", at=IMPORTED.isoformat(), message="newest backup 3d old",
    )  # fmt: skip
    _import(store, example_dir, date(2026, 3, 31))
    with session_scope(store) as session:
        assert apply(session, FrozenClock(IMPORTED), report) is None
    assert _incidents(store) == 0
    with session_scope(store) as session:  # live, the same report opens one
        shadow.end(session, FrozenClock(IMPORTED), "nordhafen", actor="x")
        assert apply(session, FrozenClock(IMPORTED), replace(report, id="again")) is not None
    assert _incidents(store) == 1


class LatePrefect:
    """One purge run Late for 7 hours (its late_expiry is 6 h), as Prefect would list it."""

    def __init__(self, expected: datetime) -> None:
        self.info = SimpleNamespace(id="late-1", expected_start_time=expected)
        self.cancelled: list[str] = []

    def late_runs(self) -> list[tuple[Any, dict[str, object]]]:
        params = {"client_id": "nordhafen", "procedure_id": "purge-tracking-events"}
        return [(self.info, params)]

    def cancel(self, flow_run_id: str, message: str) -> bool:
        self.cancelled.append(flow_run_id)
        return True

    def mark_crashed(self, flow_run_id: str, message: str) -> bool:
        return True


def test_a_shadow_run_cancelled_for_lateness_opens_no_incident(
    store: Engine, example_dir: Path
) -> None:
    _import(store, example_dir, date(2026, 3, 31))
    now = IMPORTED + timedelta(hours=12)
    prefect = LatePrefect(now - timedelta(hours=7))

    missed_runs.watch(store, FrozenClock(now), orchestrator=prefect, lookback=timedelta(0))

    assert prefect.cancelled == ["late-1"]
    assert _incidents(store) == 0
    with session_scope(store) as s:
        run = s.execute(select(Run).where(Run.flow_run_id == "late-1")).scalar_one()
        assert (run.outcome, run.dry_run) == ("missed", True)
        shadow.end(s, FrozenClock(now), "nordhafen", actor="x")
    prefect.info = SimpleNamespace(id="late-2", expected_start_time=now - timedelta(hours=7))
    missed_runs.watch(store, FrozenClock(now), orchestrator=prefect, lookback=timedelta(0))
    assert _incidents(store) == 1  # live, the same lateness pages


def test_a_shadow_clients_heartbeats_are_not_watched_until_it_goes_live(
    store: Engine, example_dir: Path
) -> None:
    _import(store, example_dir, date(2026, 3, 31))
    clock = FrozenClock(datetime(2026, 3, 21, 0, 0, tzinfo=UTC))
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").started == []
    clock.advance(timedelta(days=2))  # every nightly ping missed: a live client would page
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").missed == []
    assert _incidents(store) == 0

    with session_scope(store) as s:
        shadow.end(s, clock, "nordhafen", actor="x")
    started = heartbeat_watch.watch(store, clock, client_id="nordhafen").started
    assert "nordhafen/tms-pg-dump" in started
    clock.advance(timedelta(days=1))  # the first nightly ping after going live is missed
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").missed
    assert _incidents(store) >= 1
