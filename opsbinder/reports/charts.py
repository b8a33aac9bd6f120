"""The report's charts as inline SVG (pygal), without scripts or anything fetched from the web."""

from __future__ import annotations

from typing import Any

import pygal
from pygal.style import Style

from opsbinder.reports.report import Report

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#333",
    foreground_strong="#111",
    foreground_subtle="#ddd",
    opacity=".9",
    opacity_hover="1",
    colors=("#2e7d32", "#c62828", "#ef6c00", "#1565c0", "#6a1b9a", "#9e9e9e"),
    font_family="system-ui, -apple-system, 'Segoe UI', sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=11,
)
SEVERITY_COLORS = ("#b71c1c", "#e65100", "#f9a825", "#78909c")


def _config(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        style=STYLE,
        js=[],  # pygal links its tooltip script from the web by default; the file stays offline
        disable_xml_declaration=True,
        width=720,
        height=300,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        margin=12,
        margin_bottom=24,
        show_y_guides=True,
        print_values=False,
    )
    base.update(extra)
    return base


def _svg(chart: Any) -> str:
    return str(chart.render(is_unicode=True))


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def count_labels(totals: list[int]) -> list[int]:
    """Whole-number y labels for a chart of counts: pygal's own would say 0.2 incidents."""
    top = max(totals, default=0)
    step = max(1, -(-top // 8))  # at most ~9 labels
    return list(range(0, max(top, 1) + step, step))


def rates_trend(report: Report) -> str:
    """Rates on a 0-100% axis: a zoomed axis (starting at 30%) made a small dip look like a fall."""
    success = [_pct(t.figures.success_rate) for t in report.trend]
    on_time = [_pct(t.figures.on_time_rate) for t in report.trend]
    chart = pygal.Line(
        **_config(
            title="Success and on-time rate by month (%)",
            range=(0, 100),
            y_labels=list(range(0, 101, 10)),
            dots_size=4,
            style=Style(**{**STYLE.__dict__, "colors": ("#2e7d32", "#1565c0")}),
        )
    )
    chart.x_labels = [t.month for t in report.trend]
    chart.add("success rate", success)
    chart.add("on time", on_time)
    return _svg(chart)


def runs_trend(report: Report) -> str:
    totals = [t.figures.ok + t.figures.failed + t.figures.missed for t in report.trend]
    chart = pygal.StackedBar(**_config(title="Runs by month", y_labels=count_labels(totals)))
    chart.x_labels = [t.month for t in report.trend]
    chart.add("ok", [t.figures.ok for t in report.trend])
    chart.add("failed", [t.figures.failed for t in report.trend])
    chart.add("missed", [t.figures.missed for t in report.trend])
    return _svg(chart)


def incidents_trend(report: Report) -> str:
    style = Style(**{**STYLE.__dict__, "colors": SEVERITY_COLORS})
    totals = [sum(t.figures.incidents.values()) for t in report.trend]
    chart = pygal.StackedBar(
        **_config(title="Incidents opened by severity", style=style, y_labels=count_labels(totals))
    )
    chart.x_labels = [t.month for t in report.trend]
    for sev in ("sev1", "sev2", "sev3", "sev4"):
        chart.add(sev, [t.figures.incidents.get(sev, 0) for t in report.trend])
    return _svg(chart)


def worst_procedures(report: Report, top: int = 10) -> str:
    """Where the trouble was: the procedures with the most failed and missed runs."""
    worst = sorted(
        (p for p in report.procedures if p.figures.failed + p.figures.missed),
        key=lambda p: (p.figures.failed + p.figures.missed, p.figures.missed),
        reverse=True,
    )[:top]
    worst.reverse()  # pygal draws the first label at the bottom
    chart = pygal.HorizontalStackedBar(
        **_config(
            title=f"Most failed and missed runs in {report.month}",
            style=Style(**{**STYLE.__dict__, "colors": ("#c62828", "#ef6c00")}),
            height=max(300, 30 * len(worst) + 110),
            no_data_text="no failed or missed runs",
            y_labels=count_labels([p.figures.failed + p.figures.missed for p in worst]),
        )
    )
    chart.x_labels = [f"{p.client_id}/{p.key}" if len(report.clients) > 1 else p.key for p in worst]
    # One empty slot, not an empty series: pygal then shows no_data_text instead of nothing.
    no_data: list[int | None] = [None]
    chart.add("failed", [p.figures.failed for p in worst] or no_data)
    chart.add("missed", [p.figures.missed for p in worst] or no_data)
    return _svg(chart)


def all_charts(report: Report) -> dict[str, str]:
    return {
        "rates": rates_trend(report),
        "runs": runs_trend(report),
        "incidents": incidents_trend(report),
        "procedures": worst_procedures(report),
    }
