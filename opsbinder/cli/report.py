"""`opsbinder report`: a month's figures for managers, as HTML with charts, CSV or JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from opsbinder.cli import common
from opsbinder.errors import OpsbinderError


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    month: str = typer.Option(..., "--month", help="the month, e.g. 2026-10"),
    client: str | None = typer.Option(None, "--client", help="one client (default: all)"),
    fmt: str = typer.Option("html", "--format", help="html, csv or json"),
    output: Path | None = typer.Option(None, "--output", "-o", help="file (default: stdout)"),
    trend: int = typer.Option(6, "--trend", min=0, max=36, help="previous months to compare"),
) -> None:
    """Runs, success and on-time rates, missed runs, incidents, MTTA/MTTR, Sev1 updates."""
    from opsbinder.reports.render import FORMATS, render
    from opsbinder.reports.report import Month, build_report

    if fmt not in FORMATS:
        raise OpsbinderError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    built = build_report(
        common.store(),
        Month.parse(month),
        client_id=client,
        trend_months=trend,
        now=common.clock().now(),
    )
    text = render(built, fmt)
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    common.console.print(f"wrote {output} ({fmt}, {len(built.procedures)} procedures)")
