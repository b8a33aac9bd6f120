"""Third-party verification: every procedure dry-run against the (demo) live systems, recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from opsbinder.clock import FrozenClock
from opsbinder.demo import demo_env, prepare_demo
from opsbinder.handover.completeness import audit_client
from opsbinder.handover.export import export_client
from opsbinder.handover.verification import verify_client
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Procedure, Run
from tests.handover.conftest import fix_in, load_variant

EXPECTED = {
    "archive-delivered-orders": "passed",
    "check-disk-space": "passed",
    "check-tms-backup": "failed",  # the demo's newest dump is three days old, on purpose
    "export-customs-report": "passed",
    "lockdown-checklist": "not_verifiable",
    "monthly-restore-test": "not_verifiable",
    "purge-tracking-events": "passed",
    "remind-patches-and-renewals": "passed",
}


@pytest.fixture
def demo(tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = demo_env(tmp_path / "demo")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    prepare_demo(tmp_path / "demo", clock, rows=2000)
    return env


def _tms_rows(env: dict[str, str]) -> int:
    engine = create_engine(env["NORDHAFEN_TMS_DB_URL"])
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM tracking_events")).scalar_one()
    engine.dispose()
    return int(count)


@pytest.mark.slow
def test_it_dry_runs_every_procedure_and_records_one_verification_run_each(
    loaded: Engine, clock: FrozenClock, demo: dict[str, str], tmp_path: Path
) -> None:
    rows_before = _tms_rows(demo)

    verdicts = verify_client(loaded, "nordhafen", clock, actor="auditor@newco")

    assert {v.procedure: v.verdict for v in verdicts} == EXPECTED
    manual = next(v for v in verdicts if v.procedure == "monthly-restore-test")
    assert manual.reason == "not verifiable: a person signs it off"
    backup = next(v for v in verdicts if v.procedure == "check-tms-backup")
    assert "tms-" in backup.reason and "old" in backup.reason
    assert _tms_rows(demo) == rows_before  # a dry run deletes nothing
    with session_scope(loaded) as session:
        recorded = session.execute(
            select(Procedure.key, Run).join(Procedure, Procedure.id == Run.procedure_id)
        ).all()
        assert len(recorded) == len(EXPECTED)
        outcome = {"passed": "ok", "failed": "failed", "not_verifiable": "skipped"}
        for key, run in recorded:
            assert run.verification and run.dry_run and run.actor == "auditor@newco"
            assert run.outcome == outcome[EXPECTED[key]]
            assert run.metrics["verification"] == EXPECTED[key]
        assert (
            session.execute(
                select(func.count()).where(AuditEntry.action == "binder.verified")
            ).scalar_one()
            == 1
        )
        report = audit_client(session, "nordhafen", clock)
        export_client(session, "nordhafen", tmp_path / "out", clock, actor="auditor@newco")
    assert [f.where for f in report.findings if f.code == "verification-failed"] == [
        fix_in("procedures.yaml", "procedures[check-tms-backup].params")
    ]
    # verification runs are not runs: everything automated still counts as never run
    assert len([f for f in report.findings if f.code == "never-run"]) == 6
    page = (tmp_path / "out" / "completeness.html").read_text()
    assert page.count(">passed<") == 5 and page.count(">not verifiable<") == 2
    assert "auditor@newco" in page
    history = (tmp_path / "out" / "history.html").read_text()
    assert ">1<" not in history  # no verification dry run counted as a run


def test_it_reports_a_missing_system_variable_as_failed_without_stopping(
    loaded: Engine, clock: FrozenClock, demo: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NORDHAFEN_TMS_DB_URL")

    verdicts = {v.procedure: v for v in verify_client(loaded, "nordhafen", clock, actor="x")}

    assert len(verdicts) == len(EXPECTED)
    purge = verdicts["purge-tracking-events"]
    assert purge.verdict == "failed"
    assert "NORDHAFEN_TMS_DB_URL" in purge.reason
    assert verdicts["check-disk-space"].verdict == "passed"


def test_it_verifies_a_procedure_in_a_freeze_and_says_a_real_run_would_be_skipped(
    store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("NORDHAFEN_DATA_DIR", str(tmp_path))
    freeze = {"name": "Easter freeze", "start": "2026-03-20T00:00:00Z",
              "end": "2026-04-07T00:00:00Z", "procedures": ["check-disk-space"]}  # fmt: skip
    load_variant(store, clock, example_dir, lambda d: d["maintenance_windows"].append(freeze))

    verdicts = {v.procedure: v for v in verify_client(store, "nordhafen", clock, actor="x")}

    disk = verdicts["check-disk-space"]
    assert disk.verdict == "passed"
    assert disk.reason.endswith(
        "(previewed in maintenance window 'Easter freeze': a real run now would be skipped)"
    )
    assert "previewed" not in verdicts["purge-tracking-events"].reason  # outside the freeze
