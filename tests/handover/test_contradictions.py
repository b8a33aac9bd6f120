"""`binder audit` finds where a binder contradicts itself, each provoked by a broken binder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from tests.handover.conftest import fix_in
from tests.handover.test_completeness import audit_of, only, proc


def _override_for_whoever_is_on(data: dict[str, Any]) -> None:
    """The week of 2026-12-21 is Ayşe's already: an override putting her on changes nothing."""
    data["oncall_schedules"][0]["overrides"][0]["contact"] = "ayse-demir"


def test_it_finds_an_override_that_changes_nothing(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, _override_for_whoever_is_on)
    assert only(report, "oncall-override-no-op") == [
        fix_in("oncall.yaml", "oncall_schedules[l1-weekly].overrides[0]")
    ]
    message = next(f.message for f in report.findings if f.code == "oncall-override-no-op")
    assert "ayse-demir is on call then anyway" in message
    assert report.score < 100


def test_an_override_that_swaps_someone_in_is_no_contradiction(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir)  # Lena covers Ayşe's Christmas
    assert only(report, "oncall-override-no-op") == []


def test_it_finds_a_destructive_procedure_never_run_successfully_but_due_within_7_days(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, skip_runs=("purge-tracking-events",))
    assert only(report, "destructive-untried") == [
        fix_in("procedures.yaml", "procedures[purge-tracking-events].schedule")
    ]
    message = next(f.message for f in report.findings if f.code == "destructive-untried")
    assert "purge-tracking-events: a purge that has never run successfully" in message
    assert "2026-03-21 01:15" in message  # the next run, a day after the audit's clock


def test_a_destructive_procedure_not_due_within_7_days_is_no_contradiction(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def yearly(data: dict[str, Any]) -> None:
        proc(data, "purge-tracking-events")["schedule"]["cron"] = "15 1 1 1 *"

    report = audit_of(store, clock, example_dir, yearly, skip_runs=("purge-tracking-events",))
    assert only(report, "destructive-untried") == []
    assert only(report, "never-run")  # the same binder, still never run: only not soon


def _drill_off(data: dict[str, Any]) -> None:
    proc(data, "check-tms-backup")["params"].update(restore_drill=False, restore_to=None)


def test_it_finds_a_backup_runbook_describing_a_restore_while_the_drill_is_off(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, _drill_off)
    assert only(report, "runbook-restore-not-drilled") == [
        fix_in("procedures.yaml", "procedures[check-tms-backup].params.restore_drill")
    ]


def test_a_backup_runbook_that_promises_no_restore_is_no_contradiction(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def plain_runbook(data: dict[str, Any]) -> None:
        _drill_off(data)
        book = proc(data, "check-tms-backup")["runbook"]
        book["steps"] = [s for s in book["steps"] if "restore" not in s.lower()]

    report = audit_of(store, clock, example_dir, plain_runbook)
    assert only(report, "runbook-restore-not-drilled") == []
