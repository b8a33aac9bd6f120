"""`opsbinder validate` and `opsbinder schedule`: is the binder sound, and when does it run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer
from rich.table import Table

from opsbinder.cli import common
from opsbinder.config.schedules import cadence_of, next_runs
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("schedule")(schedule)
    app.command("load")(load)


def validate(
    path: Path | None = typer.Argument(
        None, help="binder folder (default: $OPSBINDER_CONFIG_DIR or ./config)"
    ),
) -> None:
    """Check the binder: every file, field and cross-reference. Exit 2 listing every problem."""
    binder = common.binder(path)
    table = Table(title=f"Binder {common.config_dir(path)}: valid")
    for column in ("client", "procedures", "by kind", "contacts", "policies", "on-call", "systems"):
        table.add_column(column)
    for cb in binder.clients:
        kinds = Counter(p.kind for p in cb.procedures)
        table.add_row(
            cb.client.id,
            str(len(cb.procedures)),
            ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
            str(len(cb.contacts)),
            str(len(cb.escalation_policies)),
            str(len(cb.oncall_schedules)),
            str(len(cb.systems)),
        )
    common.console.print(table)


def schedule(
    procedure: str = typer.Argument(..., help="procedure id, or client/procedure"),
    count: int = typer.Option(5, "--count", "-n", min=1, max=100),
    path: Path | None = common.ConfigDirOption,
) -> None:
    """Preview the next runs of a procedure in its time zone."""
    client, proc = common.binder(path).find_procedure(procedure)
    runs = next_runs(proc.schedule, common.clock().now(), count)
    table = Table(
        title=f"{client.client.id}/{proc.id}: {proc.schedule.cron} ({proc.schedule.timezone}), "
        f"{proc.cadence or cadence_of(proc.schedule.cron)}"
    )
    table.add_column("local time")
    table.add_column("UTC")
    for when in runs:
        table.add_row(
            when.strftime("%a %Y-%m-%d %H:%M %Z (%z)"), when.astimezone().strftime("%Y-%m-%d %H:%M")
        )
    common.console.print(table)


def load(path: Path | None = typer.Argument(None, help="binder folder")) -> None:
    """Validate the binder and load it into the store (what flows and the web use at run time)."""
    binder = common.binder(path)
    with session_scope(common.store()) as session:
        report = sync_binder(session, binder, common.clock(), actor=common.actor())
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("removed", report.removed),
    ):
        for name in names:
            common.console.print(f"{label:8} {name}")
    common.console.print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
