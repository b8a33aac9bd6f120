"""The report as HTML (one self-contained file), CSV (one row per procedure and client), JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from opsbinder.reports.charts import all_charts
from opsbinder.reports.figures import SEVERITIES, Figures
from opsbinder.reports.report import Report

FORMATS = ("html", "csv", "json")

_env = Environment(
    loader=PackageLoader("opsbinder.reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def rate_class(value: float | None) -> str:
    if value is None:
        return ""
    return "good" if value >= 0.98 else "warn" if value >= 0.9 else "bad"


def pill(value: float | None) -> Markup:
    if value is None:
        return Markup("–")
    return Markup('<span class="pill {}">{}</span>').format(rate_class(value), pct(value))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def big(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def to_html(report: Report) -> str:
    template = _env.get_template("report.html.j2")
    zone = ZoneInfo(report.timezone)
    first = report.start.astimezone(zone)
    last = report.end.astimezone(zone) - timedelta(days=1)
    period = f"{first:%d %B %Y} to {last:%d %B %Y}"
    return template.render(
        report=report,
        total=report.total,
        charts=all_charts(report),
        severities=SEVERITIES,
        period=period,
        pct=pct,
        pill=pill,
        rate_class=rate_class,
        duration=duration,
        big=big,
        size=size,
    )


CSV_COLUMNS = (
    "level",
    "client",
    "procedure",
    "name",
    "runs",
    "ok",
    "failed",
    "skipped",
    "missed",
    "success_rate",
    "on_time_rate",
    "rows_purged",
    "bytes_archived",
    *(f"incidents_{s}" for s in SEVERITIES),
    "mtta_seconds",
    "mttr_seconds",
    "sev1_updates_due",
    "sev1_updates_on_time",
    "sev1_update_punctuality",
)


def _csv_row(level: str, client: str, procedure: str, name: str, f: Figures) -> dict[str, Any]:
    data = f.as_dict()
    row: dict[str, Any] = {"level": level, "client": client, "procedure": procedure, "name": name}
    for col in CSV_COLUMNS[4:]:
        if col.startswith("incidents_"):
            row[col] = data["incidents"].get(col.removeprefix("incidents_"), 0)
        else:
            value = data[col]
            row[col] = (
                "" if value is None else round(value, 4) if isinstance(value, float) else value
            )
    return row


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in report.procedures:
        writer.writerow(_csv_row("procedure", p.client_id, p.key, p.name, p.figures))
    for c in report.clients:
        writer.writerow(_csv_row("client", c.client_id, "", c.name, c.figures))
    for t in report.trend:
        writer.writerow(_csv_row("month", "", "", t.month, t.figures))
    return out.getvalue()


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False)


def render(report: Report, fmt: str) -> str:
    if fmt == "html":
        return to_html(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "json":
        return to_json(report)
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
