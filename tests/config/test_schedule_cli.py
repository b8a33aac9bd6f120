"""`opsbinder schedule` previews Prefect's own run times across DST; `validate` warns about them."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from opsbinder.cli import common
from opsbinder.cli.main import app, main
from opsbinder.clock import FrozenClock


@pytest.fixture
def binder_0230(example_dir, tmp_path):
    """The example with the purge moved to 02:30 Berlin time, into the DST gap and repeat."""
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    text = procedures.read_text()
    assert 'cron: "15 1 * * *"' in text
    procedures.write_text(text.replace('cron: "15 1 * * *"', 'cron: "30 2 * * *"', 1))
    return folder


@pytest.fixture
def wide(monkeypatch):
    monkeypatch.setattr(common.console, "width", 200)


def _run(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def test_it_previews_the_spring_forward_run_an_hour_early(binder_0230, wide):
    result = _run(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "4",
        "--from", "2027-03-01", "--across-dst",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = [line for line in lines if "2027-03-" in line]
    assert "Sat 2027-03-27 02:30 CET" in rows[0]
    assert "Sun 2027-03-28 01:30 CET" in rows[1] and "shifted: 02:30 does not exist" in rows[1]
    assert "clocks go forward to 03:00 CEST" in rows[2]
    assert "Mon 2027-03-29 02:30 CEST" in rows[3] and "2027-03-29 00:30" in rows[3]
    assert (
        "DST: 2027-03-28 02:30 does not exist; Prefect runs it at 01:30 CET, an hour early"
        in result.output
    )


def test_it_moves_the_preview_to_the_change_when_it_falls_in_the_shown_runs(binder_0230, wide):
    result = _run(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "3",
        "--from", "2026-10-23",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Sun 2026-10-25 02:30 CEST" in result.output
    assert "shifted: 02:30 repeats, runs once" in result.output
    assert "clocks go back to 02:00 CET" in result.output
    assert "Mon 2026-10-26 02:30 CET" in result.output


def test_it_shows_plain_runs_far_from_a_change(binder_0230, wide):
    result = _run(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "2",
        "--from", "2026-12-01",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Tue 2026-12-01 02:30 CET" in result.output
    assert "Wed 2026-12-02 02:30 CET" in result.output
    assert "clocks go" not in result.output and "DST:" not in result.output


def test_it_rejects_a_bad_from_without_a_traceback(binder_0230, monkeypatch, capsys):
    monkeypatch.setattr(
        sys, "argv",
        ["opsbinder", "schedule", "purge-tracking-events", "-c", str(binder_0230),
         "--from", "someday"],
    )  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == 1
    assert "--from: not an ISO date or time: 'someday'" in captured.err
    assert "Traceback" not in captured.err + captured.out


def test_it_prints_dst_warnings_from_validate_and_still_exits_0(binder_0230, wide, monkeypatch):
    monkeypatch.setattr(common, "clock", lambda: FrozenClock(datetime(2026, 11, 1, tzinfo=UTC)))
    result = _run("validate", str(binder_0230))
    assert result.exit_code == 0, result.output
    assert "2 DST warning(s)" in result.output
    assert (
        "warning: nordhafen/purge-tracking-events: 30 2 * * * (Europe/Berlin) — 2027-03-28 "
        "02:30 does not exist; Prefect runs it at 01:30 CET, an hour early"
    ) in result.output
    assert "2027-10-31 02:30 happens twice" in result.output


def test_it_prints_no_dst_warning_for_the_example(example_dir, wide):
    result = _run("validate", str(example_dir))
    assert result.exit_code == 0, result.output
    assert "DST warning" not in result.output
