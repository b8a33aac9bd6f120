"""Outcomes as tables and artifacts; the progress hub; the kind registry."""

from __future__ import annotations

import pytest

from opsbinder.errors import OpsbinderError
from opsbinder.procedures import progress, registry
from opsbinder.procedures.outcome import (
    BundleFailed,
    Outcome,
    artifact_key,
    bundle_markdown,
    key_metrics,
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


def test_it_keeps_the_outcome_when_a_failure_is_pickled() -> None:
    import pickle

    from opsbinder.procedures.outcome import ProcedureFailed

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
