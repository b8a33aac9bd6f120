"""The report's charts: whole incident and run counts on their axes, rates on a 0-100% axis."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from opsbinder.reports import charts
from opsbinder.reports.report import Month, build_report


def _y_labels(svg: str) -> list[str]:
    axis = re.search(r'<g class="axis y[^"]*">(.*?)</g>\s*</g>', svg, re.S)
    assert axis is not None
    return re.findall(r"<text[^>]*>([^<]+)</text>", axis.group(1))


def test_it_labels_counts_with_whole_numbers_and_rates_from_0_to_100(history: Engine) -> None:
    report = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=2)
    drawn = charts.all_charts(report)
    for name in ("incidents", "runs"):
        labels = _y_labels(drawn[name])
        assert labels and all(re.fullmatch(r"\d+", label) for label in labels), (name, labels)
        assert labels[0] == "0"
    rates = _y_labels(drawn["rates"])
    assert rates[0] == "0" and rates[-1] == "100"


def test_it_counts_small_numbers_one_by_one() -> None:
    assert charts.count_labels([0, 1]) == [0, 1]
    assert charts.count_labels([]) == [0, 1]
    assert charts.count_labels([2, 3]) == [0, 1, 2, 3]
    assert charts.count_labels([40]) == [0, 5, 10, 15, 20, 25, 30, 35, 40]
