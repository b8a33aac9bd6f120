"""`opsbinder demo`: the README's main job on the embedded default."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from opsbinder.cli import common
from opsbinder.config.schedules import next_runs
from opsbinder.demo import prepare_demo
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    path: Path = typer.Option(Path("config/example"), "--config", "-c", help="binder folder"),
) -> None:
    """Create the demo systems, validate and load the example binder, and show what is scheduled."""
    clock = common.clock()
    systems = prepare_demo(get_settings().home / "demo", clock)
    common.console.print(f"demo systems ready in {systems.root}")
    binder = common.binder(path)
    common.console.print(
        f"binder {path} is valid: {sum(len(c.procedures) for c in binder.clients)} procedures"
    )
    engine = common.store()
    with session_scope(engine) as session:
        report = sync_binder(session, binder, clock, actor=common.actor())
    common.console.print(
        f"store {engine.url.render_as_string(hide_password=True)}: {len(report.created)} created, "
        f"{len(report.updated)} updated, {len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    table = Table(title="What is scheduled")
    for column in ("client", "procedure", "kind", "cron (time zone)", "next runs (local time)"):
        table.add_column(column)
    now = clock.now()
    for cb in binder.clients:
        for proc in cb.procedures:
            runs = next_runs(proc.schedule, now, 3)
            table.add_row(
                cb.client.id,
                proc.id,
                proc.kind,
                f"{proc.schedule.cron} ({proc.schedule.timezone})",
                "\n".join(r.strftime("%a %Y-%m-%d %H:%M %Z") for r in runs),
            )
    common.console.print(table)
