"""Report figures against values worked out by hand from the history in conftest.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder.reports.report import Month, build_report


def test_it_computes_the_month_per_procedure_as_worked_out_by_hand(history: Engine) -> None:
    report = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=2)
    by_key = {p.key: p.figures for p in report.procedures}

    purge = by_key["purge-tracking-events"]
    assert (purge.runs, purge.ok, purge.failed, purge.missed) == (5, 4, 1, 1)
    assert purge.success_rate == pytest.approx(0.8)
    assert (purge.on_time, purge.due) == (3, 5)
    assert purge.rows_purged == 1850
    assert purge.incidents["sev3"] == 1
    assert purge.mtta_seconds == pytest.approx(600)
    assert purge.mttr_seconds == pytest.approx(7200)

    backup = by_key["check-tms-backup"]
    assert (backup.runs, backup.ok, backup.failed, backup.skipped) == (2, 1, 1, 1)
    assert backup.on_time_rate == pytest.approx(1.0)
    assert backup.incidents == {"sev1": 1, "sev2": 1, "sev3": 0, "sev4": 0}
    assert backup.mtta_seconds == pytest.approx(1050)
    assert backup.mttr_seconds == pytest.approx(14400)
    assert (backup.updates_on_time, backup.updates_due) == (2, 3)

    assert by_key["archive-delivered-orders"].bytes_archived == 3_000_000_000
    assert by_key["check-disk-space"].runs == 0


def test_it_adds_the_procedures_up_to_the_client_and_keeps_the_trend(history: Engine) -> None:
    report = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=2)
    total = report.clients[0].figures
    assert (total.runs, total.ok, total.failed, total.missed) == (8, 6, 2, 1)
    assert total.success_rate == pytest.approx(0.75)
    assert total.on_time_rate == pytest.approx(5 / 7)
    assert total.incidents == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 1}
    assert total.mtta_seconds == pytest.approx(900)
    assert total.mttr_seconds == pytest.approx(10800)
    assert total.update_punctuality == pytest.approx(2 / 3)

    assert [p.month for p in report.trend] == ["2026-08", "2026-09", "2026-10"]
    august, september, october = (p.figures for p in report.trend)
    assert august.runs == 0 and august.incident_count == 0
    assert (september.runs, september.ok, september.incidents["sev2"]) == (1, 1, 1)
    assert september.mtta_seconds == pytest.approx(60)
    assert october.as_dict() == total.as_dict()
    alone = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=0)
    assert alone.clients[0].figures.as_dict() == total.as_dict()
    assert [p.month for p in alone.trend] == ["2026-10"]


def test_it_writes_html_csv_and_json_from_the_cli(history: Engine, tmp_path: Path) -> None:
    from opsbinder.cli.main import app

    runner = CliRunner()
    html = tmp_path / "r.html"
    result = runner.invoke(
        app, ["report", "--client", "nordhafen", "--month", "2026-10", "--output", str(html)]
    )
    assert result.exit_code == 0, result.output
    page = html.read_text()
    assert page.count("<svg") >= 4
    assert "<script src" not in page and "http://kozea" not in page  # nothing fetched
    assert "75.0%" in page  # success rate tile

    result = runner.invoke(
        app, ["report", "--client", "nordhafen", "--month", "2026-10", "--format", "json"]
    )
    data = json.loads(result.output)
    assert data["total"]["missed"] == 1 and data["total"]["incidents"]["sev1"] == 1

    result = runner.invoke(
        app, ["report", "--client", "nordhafen", "--month", "2026-10", "--format", "csv"]
    )
    lines = result.output.splitlines()
    assert lines[0].startswith("level,client,procedure")
    assert any(line.startswith("client,nordhafen,,") for line in lines)


def test_it_refuses_a_month_it_cannot_read(store: Engine) -> None:
    from opsbinder.errors import OpsbinderError

    with pytest.raises(OpsbinderError, match="2026-10"):
        Month.parse("Oct 2026")
