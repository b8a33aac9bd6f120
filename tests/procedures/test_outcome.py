"""Outcomes as tables and artifacts; the progress hub; the kind registry."""

from __future__ import annotations

import pytest

from opsbinder.errors import OpsbinderError
from opsbinder.procedures import progress, registry
from opsbinder.procedures.outcome import (
    BundleFailed,
    Outcome,
    ProcedureFailed,
    artifact_key,
    bundle_markdown,
    exception_result,
    key_metrics,
    outcome_of_ending,
    outcomes_of_bundle,
    run_markdown,
)


def _backup(outcome: str = "failed") -> Outcome:
    return Outcome(
        "nordhafen", "check-tms-backup", "backup_check", outcome, "newest backup is 3d old",
        {"newest_file": "tms.dump", "newest_age_hours": 72.0, "newest_size_bytes": 210_611,
         "checksum": "absent", "summary": "x", "paths": {"a": 1}},
        ["newest backup is 3d old"], run_id=7,
    )  # fmt: skip


def test_it_picks_the_key_metrics_of_a_kind_for_a_table_cell() -> None:
    assert key_metrics(_backup()) == "age_h=72 size=210.6k checksum=absent"
    other = Outcome("c", "p", "custom", "ok", "", {"rows": 12, "ok": True, "nested": {"a": 1}})
    assert key_metrics(other) == "rows=12"


def test_it_writes_a_run_artifact_with_findings_and_metrics() -> None:
    text = run_markdown(_backup(), name="Check | backup")
    assert text.startswith("# check-tms-backup — Check | backup\n")
    assert "**Outcome: FAILED** · client `nordhafen` · kind `backup_check` · run #7" in text
    assert "## Findings\n\n- newest backup is 3d old" in text
    assert "| newest_size_bytes | 210611 |" in text and "| paths | a: 1 |" in text
    assert "| summary |" not in text


def test_it_writes_a_bundle_table_and_counts_failures() -> None:
    outcomes = [_backup(), _backup("ok")]
    text = bundle_markdown("nordhafen", "daily", outcomes)
    assert "2 procedures, 1 failed." in text
    assert "| check-tms-backup | backup_check | **failed** | newest backup is 3d old |" in text
    assert str(BundleFailed(outcomes)) == "1 of 2 procedures failed: check-tms-backup"
    assert str(ProcedureFailed(_backup())) == (
        "nordhafen/check-tms-backup failed: newest backup is 3d old"
    )


def test_it_keeps_the_outcome_when_a_failure_is_pickled() -> None:
    import pickle

    again = pickle.loads(pickle.dumps(ProcedureFailed(_backup())))
    assert again.outcome == _backup()
    assert pickle.loads(pickle.dumps(BundleFailed([_backup()]))).outcomes == [_backup()]


def test_it_makes_artifact_keys_prefect_accepts() -> None:
    assert artifact_key("nordhafen", "check_tms.Backup") == "nordhafen-check-tms-backup"


def test_it_hands_progress_to_listeners_and_survives_a_broken_one() -> None:
    seen: list[tuple[str, int, int | None, str]] = []

    def broken(*_: object) -> None:
        raise RuntimeError("display gone")

    report = progress.reporter("acme/purge")
    with progress.listening(broken), progress.listening(lambda *a: seen.append(a)):
        report(5000, 20000, "deleted 5,000 rows")
    report(6000, 20000, "nobody listens")
    assert seen == [("acme/purge", 5000, 20000, "deleted 5,000 rows")]


def test_it_names_the_missing_kind() -> None:
    with pytest.raises(OpsbinderError, match="unknown procedure kind 'backup' \\(known: purge"):
        registry.runner("backup")
    assert registry.runner("backup_check").__module__ == "opsbinder.procedures.backup_check"


def test_it_calls_a_timeout_timed_out_and_any_other_exception_failed_with_its_reason() -> None:
    outcome, result = exception_result(TimeoutError(), 1.5)
    assert (outcome, result.status) == ("timed_out", "failed")
    assert result.summary == "timed out after 1.5 s (TimeoutError)"
    outcome, result = exception_result(ConnectionError("refused"), 60)
    assert (outcome, result.summary, result.findings) == (
        "failed",
        "ConnectionError: refused",
        ["ConnectionError: refused"],
    )


def test_it_reads_a_procedure_flows_ending_whatever_way_it_ended() -> None:
    def ending(data: object, name: str | None, failed: bool, message: str | None = None) -> Outcome:
        return outcome_of_ending(
            "acme", "nightly", "purge", data=data, state_name=name, failed=failed, message=message
        )

    assert ending(_backup("ok").to_dict(), "Completed", False) == _backup("ok")
    assert ending(_backup().to_dict(), "Failed", True) == _backup()
    assert ending(ProcedureFailed(_backup()), "Failed", True) == _backup()
    crashed = ending(None, "Crashed", True, "process exited with SIGTERM")
    assert (crashed.name, crashed.outcome, crashed.summary) == (
        "acme/nightly",
        "crashed",
        "process exited with SIGTERM",
    )
    assert ending(None, "TimedOut", True, "flow timed out").outcome == "timed_out"
    assert ending(None, "Cancelled", False).outcome == "cancelled"
    refused = ending(ValueError("not a purge procedure"), "Failed", True)
    assert (refused.outcome, refused.summary) == ("failed", "not a purge procedure")


def test_it_reads_a_bundles_outcomes_and_raises_what_is_not_one() -> None:
    failed = outcomes_of_bundle(BundleFailed([_backup()]), state_name="Failed", message="")
    assert failed == [_backup()]
    done = outcomes_of_bundle([_backup("ok").to_dict()], state_name="Completed", message=None)
    assert done == [_backup("ok")]
    with pytest.raises(KeyError, match="no client"):
        outcomes_of_bundle(KeyError("no client"), state_name="Failed", message="")
    with pytest.raises(RuntimeError, match="the bundle ended Cancelled: stopped"):
        outcomes_of_bundle(None, state_name="Cancelled", message="stopped")
