"""`binder audit` finds where a binder contradicts itself, each provoked by a broken binder."""

from __future__ import annotations

from collections.abc import Callable
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
    """The drill off, and the runbook the example once had: it promised a monthly restore."""
    backup = proc(data, "check-tms-backup")
    backup["params"].update(restore_drill=False, restore_to=None)
    backup["runbook"]["steps"].append("Monthly, restore it into a scratch database.")


def test_it_finds_a_backup_runbook_describing_a_restore_while_the_drill_is_off(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, _drill_off)
    assert only(report, "runbook-restore-not-drilled") == [
        fix_in("procedures.yaml", "procedures[check-tms-backup].params.restore_drill")
    ]
    assert next(f.message for f in report.findings if f.code == "runbook-restore-not-drilled") == (
        "check-tms-backup: the runbook says 'restore', but restore_drill is off, so no restore "
        "is ever tried; correct the runbook or the configuration"
    )


def test_a_backup_runbook_that_promises_no_restore_is_no_contradiction(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def plain_runbook(data: dict[str, Any]) -> None:
        _drill_off(data)
        book = proc(data, "check-tms-backup")["runbook"]
        book["steps"] = [s for s in book["steps"] if "restore" not in s.lower()]

    report = audit_of(store, clock, example_dir, plain_runbook)
    assert only(report, "runbook-restore-not-drilled") == []


def _customs_steps(*steps: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: proc(data, "export-customs-report")["runbook"].update(steps=list(steps))


def test_it_finds_a_runbook_that_mails_a_report_its_entrypoint_sends_to_nobody(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    mails = _customs_steps("Run the entrypoint", "E-mail the CSV to Sabine Kurz")
    report = audit_of(store, clock, example_dir, mails)
    assert [(f.message, f.where) for f in report.findings] == [
        (
            "export-customs-report: the runbook says 'E-mail', but nothing in its configuration "
            "sends anything (a custom entrypoint sends only to a recipient its arguments name: "
            "channel, email, mail_to, recipient, recipients, to); correct the runbook or the "
            "configuration",
            fix_in("procedures.yaml", "procedures[export-customs-report].params"),
        )
    ]
    assert report.score < 100


def test_a_custom_entrypoint_given_a_recipient_may_say_it_mails(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mails_to_sabine(data: dict[str, Any]) -> None:
        _customs_steps("Run the entrypoint", "E-mail the CSV to Sabine Kurz")(data)
        proc(data, "export-customs-report")["params"]["arguments"]["to"] = "sabine-kurz"

    report = audit_of(store, clock, example_dir, mails_to_sabine)
    assert only(report, "runbook-sends-nothing") == []


def test_it_finds_a_read_only_check_whose_runbook_deletes(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def deletes(data: dict[str, Any]) -> None:
        proc(data, "check-disk-space")["runbook"]["steps"].append("Delete logs older than 30 days")

    report = audit_of(store, clock, example_dir, deletes)
    assert [(f.message, f.where) for f in report.findings] == [
        (
            "check-disk-space: the runbook says 'Delete', but this kind only reads; only a "
            "purge or an archive deletes; correct the runbook or the configuration",
            fix_in("procedures.yaml", "procedures[check-disk-space].kind"),
        )
    ]


def test_it_finds_a_yearly_checklist_whose_runbook_says_in_one_hour(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def in_one_hour(data: dict[str, Any]) -> None:
        """The example's lockdown as it once was: yearly, "in one hour" (now it is on demand)."""
        lockdown = proc(data, "lockdown-checklist")
        del lockdown["on_demand"]
        lockdown.update(
            schedule={"cron": "0 9 1 1 *", "timezone": "Europe/Berlin"}, cadence="yearly"
        )
        lockdown["runbook"]["purpose"] = "Hand the keys back in one hour."

    report = audit_of(store, clock, example_dir, in_one_hour)
    assert [(f.message, f.where) for f in report.findings] == [
        (
            "lockdown-checklist: runs yearly, but its runbook says 'in one hour'; correct the "
            "schedule or the runbook",
            fix_in("procedures.yaml", "procedures[lockdown-checklist].schedule"),
        )
    ]


def test_it_finds_a_quarterly_procedure_whose_steps_say_daily(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def quarterly(data: dict[str, Any]) -> None:
        customs = proc(data, "export-customs-report")
        customs["schedule"]["cron"] = "0 5 2 1,4,7,10 *"
        customs["runbook"]["steps"].append("Check daily that the officer has the file")

    report = audit_of(store, clock, example_dir, quarterly)
    assert [f.message for f in report.findings] == [
        "export-customs-report: runs quarterly, but its runbook says 'daily'; correct the "
        "schedule or the runbook"
    ]


def test_the_same_words_on_a_daily_procedure_are_no_contradiction(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def daily(data: dict[str, Any]) -> None:
        proc(data, "check-disk-space")["runbook"]["purpose"] = "Answer within one hour, daily."

    report = audit_of(store, clock, example_dir, daily)
    assert only(report, "runbook-cadence-mismatch") == []
    assert report.score == 100
