"""The completeness audit: a whole binder scores 100; each gap is found and says where to fix it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder import workitems
from opsbinder.clock import FrozenClock
from opsbinder.handover.completeness import Completeness, audit_client
from opsbinder.store.db import session_scope
from tests.handover.conftest import add_run, fix_in, load_variant

AUTOMATED = (
    "purge-tracking-events",
    "archive-delivered-orders",
    "check-tms-backup",
    "check-disk-space",
    "remind-patches-and-renewals",
    "export-customs-report",
)
MANUAL = ("monthly-restore-test", "lockdown-checklist")


def proc(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(p for p in data["procedures"] if p["id"] == key)


def contact(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in data["contacts"] if c["id"] == key)


def _restore_drill(data: dict[str, Any]) -> None:
    """A drill restores into a scratch database, whose URL is one more secret to hand over."""
    data["systems"].append({"id": "tms-scratch", "type": "database", "url_env": "TMS_SCRATCH_URL"})
    proc(data, "check-tms-backup")["params"].update(restore_drill=True, restore_to="tms-scratch")
    data["transition"]["credentials"].append(
        {"variable": "TMS_SCRATCH_URL", "handed_by": "priya-nair", "confirmed_by": "a drill runs"}
    )


def _consistent(data: dict[str, Any]) -> None:
    """The example's runbooks say only what its configuration does (a no-op on a binder that
    already does): the customs export is collected, not mailed; the lockdown is done at once."""
    book = proc(data, "export-customs-report")["runbook"]
    book["steps"] = [
        "Sabine Kurz collects the CSV from the run's artifact" if "mail" in s.lower() else s
        for s in book["steps"]
    ]
    lockdown = proc(data, "lockdown-checklist")["runbook"]
    lockdown["purpose"] = lockdown["purpose"].replace("in one hour", "at once")


def sign_off(engine: Engine, clock: FrozenClock, key: str) -> None:
    with session_scope(engine) as session:
        item, _ = workitems.create_once(
            session,
            clock,
            client_id="nordhafen",
            procedure_key=key,
            kind="checklist",
            dedup_key=f"test:{key}",
            title=key,
            due_at=clock.now(),
            assignee=None,
        )
        workitems.complete(session, clock, item, actor="priya-nair", note="done, 42 min")


def audit_of(
    engine: Engine,
    clock: FrozenClock,
    example_dir: Path,
    mutate: Callable[[dict[str, Any]], None] | None = None,
    *,
    skip_runs: tuple[str, ...] = (),
    skip_sign_off: tuple[str, ...] = (),
) -> Completeness:
    """The example made whole (restore drill on, everything run and signed off), then broken."""

    def change(data: dict[str, Any]) -> None:
        _restore_drill(data)
        _consistent(data)
        if mutate:
            mutate(data)

    load_variant(engine, clock, example_dir, change)
    for key in AUTOMATED:
        if key not in skip_runs:
            add_run(engine, clock, key, "ok", timedelta(hours=1))
    for key in MANUAL:
        if key not in skip_sign_off:
            sign_off(engine, clock, key)
    with session_scope(engine) as session:
        return audit_client(session, "nordhafen", clock)


def only(report: Completeness, code: str) -> list[str]:
    return [f.where for f in report.findings if f.code == code]


def test_it_scores_a_whole_binder_100_with_no_findings(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir)
    assert report.findings == []
    assert report.score == 100
    assert report.checks > 40


def test_it_finds_a_procedure_without_an_owner(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        proc(data, "check-disk-space")["owner"] = "left-the-company"

    report = audit_of(store, clock, example_dir, mutate)
    assert only(report, "procedure-owner") == [
        fix_in("procedures.yaml", "procedures[check-disk-space].owner")
    ]
    assert report.score < 100


def test_it_finds_a_runbook_without_steps(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(
        store,
        clock,
        example_dir,
        lambda d: proc(d, "check-tms-backup")["runbook"].update(steps=[]),
    )
    assert only(report, "runbook-steps") == [
        fix_in("procedures.yaml", "procedures[check-tms-backup].runbook.steps")
    ]


def test_it_finds_a_runbook_without_verify(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(
        store,
        clock,
        example_dir,
        lambda d: proc(d, "purge-tracking-events")["runbook"].update(verify=" "),
    )
    assert only(report, "runbook-verify") == [
        fix_in("procedures.yaml", "procedures[purge-tracking-events].runbook.verify")
    ]


def test_it_finds_a_runbook_without_rollback(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(
        store,
        clock,
        example_dir,
        lambda d: proc(d, "archive-delivered-orders")["runbook"].update(rollback=""),
    )
    assert only(report, "runbook-rollback") == [
        fix_in("procedures.yaml", "procedures[archive-delivered-orders].runbook.rollback")
    ]


def test_it_finds_a_procedure_never_run(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, skip_runs=("export-customs-report",))
    assert only(report, "never-run") == [
        fix_in("procedures.yaml", "procedures[export-customs-report].schedule")
    ]


def test_it_finds_a_procedure_not_run_successfully_within_its_period(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    load_variant(store, clock, example_dir, _restore_drill)
    # daily purge: succeeded three days ago, failed since
    add_run(store, clock, "purge-tracking-events", "ok", timedelta(days=3))
    add_run(store, clock, "purge-tracking-events", "failed", timedelta(hours=2))
    report = audit_of(store, clock, example_dir, skip_runs=("purge-tracking-events",))
    found = [f for f in report.findings if f.code == "not-run-in-period"]
    assert [f.where for f in found] == [
        fix_in("procedures.yaml", "procedures[purge-tracking-events].schedule")
    ]
    assert "2026-03-17 10:00 UTC" in found[0].message
    assert only(report, "never-run") == []


def test_it_finds_a_manual_procedure_never_signed_off(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(store, clock, example_dir, skip_sign_off=("monthly-restore-test",))
    assert only(report, "manual-never-completed") == [
        fix_in("procedures.yaml", "procedures[monthly-restore-test].schedule")
    ]


def test_it_finds_an_escalation_level_nobody_can_be_reached_at(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        contact(data, "priya-nair").update(phone=None, email=None)

    report = audit_of(store, clock, example_dir, mutate)
    assert only(report, "escalation-unreachable") == [
        fix_in("escalation.yaml", "escalation_policies[standard].levels[2]")
    ]


def test_it_finds_an_escalation_level_whose_on_call_schedule_has_nobody(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["escalation_policies"][0]["levels"][0]["targets"] = [{"oncall": "l1-weekly"}]
        data["oncall_schedules"][0]["layers"][0]["start"] = "2026-05-04"  # not started yet

    report = audit_of(store, clock, example_dir, mutate)
    assert only(report, "escalation-unreachable") == [
        fix_in("escalation.yaml", "escalation_policies[standard].levels[0]")
    ]


def test_it_finds_an_on_call_gap_in_the_next_90_days(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        layer = data["oncall_schedules"][0]["layers"][0]
        layer.update(restrict_from="07:00:00", restrict_to="22:00:00")

    clock.set(clock.now().replace(hour=12))  # during the day: level 1 is reachable now
    report = audit_of(store, clock, example_dir, mutate)
    found = [f for f in report.findings if f.code == "oncall-gap"]
    assert [f.where for f in found] == [fix_in("oncall.yaml", "oncall_schedules[l1-weekly].layers")]
    assert "nobody on call from 2026-03-20 22:00 CET to 2026-03-21 07:00 CET" in found[0].message
    assert only(report, "escalation-unreachable") == []


def test_it_finds_a_severity_1_contact_without_a_phone(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(
        store, clock, example_dir, lambda d: contact(d, "jonas-weber").update(phone=None)
    )
    assert only(report, "sev1-no-phone") == [fix_in("client.yaml", "contacts[jonas-weber].phone")]


def test_it_finds_backups_never_restore_tested(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        proc(data, "check-tms-backup")["params"]["restore_drill"] = False

    report = audit_of(store, clock, example_dir, mutate, skip_sign_off=("monthly-restore-test",))
    assert only(report, "backup-never-restore-tested") == [
        fix_in("procedures.yaml", "procedures[check-tms-backup].params.restore_drill")
    ]


def test_it_counts_a_signed_off_restore_test_as_restore_tested(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    def mutate(data: dict[str, Any]) -> None:
        proc(data, "check-tms-backup")["params"]["restore_drill"] = False

    report = audit_of(store, clock, example_dir, mutate)
    assert only(report, "backup-never-restore-tested") == []


def test_it_finds_the_lockdown_procedure_missing(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    report = audit_of(
        store,
        clock,
        example_dir,
        lambda d: proc(d, "lockdown-checklist")["params"].update(lockdown=False),
    )
    assert only(report, "lockdown-missing") == [fix_in("procedures.yaml", "procedures")]


def test_it_reports_a_failed_verification(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    load_variant(store, clock, example_dir, _restore_drill)
    from opsbinder import runs
    from opsbinder.procedures.result import ProcedureResult

    with session_scope(store) as session:
        run = runs.start_run(
            session,
            clock,
            client_id="nordhafen",
            procedure_key="check-disk-space",
            flow_run_id=None,
            scheduled_for=None,
            dry_run=True,
            actor="auditor",
        )
        run.verification = True
        runs.finish_run(session, clock, run.id, ProcedureResult("failed", "path missing"))
    report = audit_of(store, clock, example_dir)
    assert only(report, "verification-failed") == [
        fix_in("procedures.yaml", "procedures[check-disk-space].params")
    ]
    assert only(report, "never-run") == []  # a verification dry run is not a run


def test_it_prints_the_audit_with_where_to_fix_and_fails_below_a_minimum(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    from opsbinder.cli.main import app

    load_variant(store, clock, example_dir, None)
    result = CliRunner().invoke(app, ["binder", "audit", "--client", "nordhafen"])
    assert result.exit_code == 0, result.output
    assert "fix in " + fix_in(
        "procedures.yaml", "procedures[check-tms-backup].params.restore_drill"
    ) in (result.output)
    assert "third-party verification: 8 never verified" in result.output
    failing = CliRunner().invoke(
        app, ["binder", "audit", "--client", "nordhafen", "--min-score", "95"]
    )
    assert failing.exit_code == 1
