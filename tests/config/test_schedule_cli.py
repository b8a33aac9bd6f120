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
from tests.support.console import opsbinder


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


def test_it_starts_at_from_and_shows_the_change_after_a_shifted_run(binder_0230, wide):
    result = _run(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "3",
        "--from", "2026-10-23",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line.split("│")[1].strip() for line in result.output.splitlines() if "│" in line]
    assert rows == [
        "Fri 2026-10-23 02:30 CEST",
        "Sat 2026-10-24 02:30 CEST",
        "Sun 2026-10-25 02:30 CEST",
        "-- Sun 2026-10-25 03:00 CEST",  # the change the last run is shifted by
    ]
    assert "shifted: 02:30 repeats, runs once" in result.output
    assert "clocks go back to 02:00 CET" in result.output
    assert (
        "DST: 2026-10-25 02:30 happens twice (CEST, then CET); Prefect runs it once, at the "
        "first occurrence: 02:30 CEST"
    ) in result.output


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
    assert exit_info.value.code == 2  # bad input
    assert "--from: 'someday' is not a date and time" in captured.err
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


@pytest.fixture
def hourly_binder(example_dir, tmp_path):
    folder = tmp_path / "hourly"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    text = procedures.read_text()
    text = text.replace('cron: "30 6 * * *"', 'cron: "*/20 * * * *"', 1)
    text = text.replace(
        '{cron: "0 8 * * 1", timezone: Europe/Berlin}', '{cron: "0 8 * * 1", timezone: UTC}', 1
    )
    procedures.write_text(text)
    return folder


def test_it_shows_the_repeated_hour_skipped_for_a_sub_hourly_cron(hourly_binder, wide):
    result = _run(
        "schedule", "check-tms-backup", "-c", str(hourly_binder), "-n", "6",
        "--from", "2026-10-20", "--across-dst",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "│" in line and "2026-10-2" in line]
    firsts = [r.split("│")[1].strip() for r in rows]
    assert firsts == [
        "Sun 2026-10-25 02:20 CEST",  # two runs before the change
        "Sun 2026-10-25 02:40 CEST",
        "-- Sun 2026-10-25 03:00 CEST",
        "Sun 2026-10-25 03:00 CET",  # no run at 02:00-02:40 CET: the repeated hour is skipped
        "Sun 2026-10-25 03:20 CET",
        "Sun 2026-10-25 03:40 CET",
        "Sun 2026-10-25 04:00 CET",
    ]
    assert "shifted: 02:20 repeats, runs once" in rows[0]
    assert "skips the repeated hour: no run from 02:00 to 03:00 CET" in result.output


def test_it_includes_a_run_exactly_at_the_from_time(hourly_binder, wide):
    result = _run(
        "schedule", "check-tms-backup", "-c", str(hourly_binder), "-n", "2",
        "--from", "2026-12-01T10:00",
    )  # fmt: skip
    assert "Tue 2026-12-01 10:00 CET" in result.output
    assert "Tue 2026-12-01 10:20 CET" in result.output


def test_it_has_no_dst_change_to_show_for_a_utc_schedule(hourly_binder, wide):
    result = _run(
        "schedule", "remind-patches-and-renewals", "-c", str(hourly_binder), "-n", "2",
        "--from", "2027-03-01", "--across-dst",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Mon 2027-03-01 08:00 UTC" in result.output
    assert "clocks go" not in result.output


def test_it_marks_runs_the_calendar_will_skip(example_dir, wide):
    result = _run(
        "schedule", "purge-tracking-events", "-c", str(example_dir), "-n", "3",
        "--from", "2027-01-16",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "│" in line and "2027-01-1" in line]
    assert ["skipped" in row for row in rows] == [False, True, False]
    assert "Sun 2027-01-17 01:15 CET" in rows[1]
    assert "skipped: maintenance window 'TMS 2027 release upgrade'" in rows[1]


def _run_rows(output: str) -> list[list[str]]:
    """The table rows that are runs (not the clock-change marker), as their cells."""
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in output.splitlines()]
    return [row for row in rows if len(row) == 3 and not row[0].startswith("--")]


@pytest.mark.parametrize("count", ["1", "3", "7"])
def test_it_prints_exactly_n_runs_none_in_the_past(binder_0230, count):
    before = datetime.now(UTC).replace(tzinfo=None)
    ran = opsbinder("schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", count)
    assert ran.code == 0, ran.output
    rows = _run_rows(ran.out)
    assert len(rows) == int(count), ran.out
    assert all(datetime.fromisoformat(row[1]) > before for row in rows), ran.out


def test_it_never_reaches_back_before_now_across_dst(binder_0230):
    before = datetime.now(UTC).replace(tzinfo=None)
    ran = opsbinder(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "2", "--across-dst"
    )
    assert ran.code == 0, ran.output
    rows = _run_rows(ran.out)
    assert len(rows) == 2
    assert all(datetime.fromisoformat(row[1]) > before for row in rows), ran.out


def test_it_starts_at_the_from_date_even_just_before_a_change(binder_0230):
    """Before, a change among the shown runs moved the preview to two runs before it."""
    ran = opsbinder(
        "schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "3",
        "--from", "2027-03-27",
    )  # fmt: skip
    assert ran.code == 0, ran.output
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in ran.out.splitlines()]
    assert [row for row in rows if len(row) == 3] == [
        ["Sat 2027-03-27 02:30 CET", "2027-03-27 01:30", ""],
        ["Sun 2027-03-28 01:30 CET", "2027-03-28 00:30", "shifted: 02:30 does not exist"],
        ["-- Sun 2027-03-28 02:00 CET", "2027-03-28 01:00", "clocks go forward to 03:00 CEST"],
        ["Mon 2027-03-29 02:30 CEST", "2027-03-29 00:30", ""],
    ]


def test_it_says_a_procedure_paused_in_the_binder_is_paused(binder_0230):
    procedures = binder_0230 / "procedures.yaml"
    text = procedures.read_text()
    procedures.write_text(text.replace("    grace: 45m\n", "    grace: 45m\n    paused: true\n", 1))
    ran = opsbinder("schedule", "purge-tracking-events", "-c", str(binder_0230), "-n", "1")
    assert ran.code == 0, ran.output
    assert ran.out.startswith(
        "paused (paused: true in the binder): Prefect runs none of these until it is resumed "
        "(opsbinder resume purge-tracking-events --client nordhafen)\n"
    )


def test_it_says_a_procedure_paused_with_opsbinder_pause_is_paused(example_dir, tmp_path):
    env = {"OPSBINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    preview = ("schedule", "check-tms-backup", "-c", str(example_dir), "-n", "1")
    assert opsbinder("load", str(example_dir), env=env).code == 0
    assert "paused" not in opsbinder(*preview, env=env).out  # loaded, not paused yet
    assert opsbinder("pause", "check-tms-backup", env=env).code == 0
    ran = opsbinder(*preview, env=env)
    assert ran.code == 0, ran.output
    assert ran.out.startswith(
        "paused (with opsbinder pause): Prefect runs none of these until it is resumed "
        "(opsbinder resume check-tms-backup --client nordhafen)\n"
    )


def test_it_says_an_on_demand_procedure_has_no_runs_to_preview_and_validate_lists_it(
    example_dir,
):
    folder = example_dir  # its lockdown checklist is on demand
    preview = opsbinder("schedule", "lockdown-checklist", "-c", str(folder), "-n", "3")
    assert preview.code == 0, preview.output
    assert " ".join(preview.out.split()) == (
        "nordhafen/lockdown-checklist runs on demand only: it has no schedule, so Prefect runs "
        "it only when someone does (opsbinder run nordhafen/lockdown-checklist)"
    )
    valid = opsbinder("validate", str(folder))
    assert valid.code == 0, valid.output
    (row,) = [line for line in valid.out.splitlines() if "lockdown-checklist" in line]
    assert row.replace("│", " ").split() == [
        "lockdown-checklist",
        "manual",
        "on",
        "demand",
        "on_demand",
        "sev1",
    ]
