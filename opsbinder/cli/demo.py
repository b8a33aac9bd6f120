"""`opsbinder demo`: the README's main job on the embedded default.

Creates the demo systems, loads the example binder, plays a year of the client's history into
a new store (opsbinder.demo_year: the core's own steps with a moved clock, no Prefect), shows
what is scheduled, then runs the example client's daily bundle through Prefect (its ephemeral API unless PREFECT_API_URL is set)
and prints the outcome of every procedure. The backup check fails on purpose: the demo's newest
backup is three days old. Output fits an 80-column terminal.
"""

from __future__ import annotations

import shlex
import time
from datetime import datetime
from pathlib import Path

import typer
from rich import box
from rich.table import Table
from sqlalchemy import Engine

from opsbinder.cli import common
from opsbinder.cli.run import execute, outcome_table
from opsbinder.config.schedules import cadence_for, next_runs
from opsbinder.demo import demo_env, prepare_demo
from opsbinder.demo_year import DAYS, build_year, has_history
from opsbinder.orchestrator import local
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    path: Path = typer.Option(Path("config/example"), "--config", "-c", help="binder folder"),
    cadence: str = typer.Option("daily", "--cadence", help="which bundle to run"),
    run_bundle: bool = typer.Option(True, "--run/--no-run", help="run the bundle after loading"),
    env: bool = typer.Option(
        False, "--env", help="only print the shell exports that point opsbinder at the demo"
    ),
    history: bool = typer.Option(
        True, "--history/--no-history", help="first play a year of history into a new store"
    ),
) -> None:
    """Create the demo systems, load the example binder, run its daily bundle, show the outcome."""
    clock = common.clock()
    home = get_settings().home
    if env:
        # `eval "$(opsbinder demo --env)"`: then `opsbinder run check-tms-backup` finds the
        # demo's store, its systems' variables and the same Prefect home.
        exports = {
            "OPSBINDER_HOME": str(home.resolve()),
            "PREFECT_HOME": local.prefect_home((home / "prefect").resolve()),
            **demo_env((home / "demo").resolve()),
        }
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
        return
    systems = prepare_demo(home / "demo", clock, history_days=DAYS if history else 0)
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
    if history and binder.clients:
        _history(engine, binder.clients[0].client.id, systems.root / "backups", clock.now())
    now = clock.now()
    for cb in binder.clients:
        table = Table(
            title=f"What is scheduled for {cb.client.id}", title_justify="left", box=box.SIMPLE_HEAD
        )
        table.add_column("procedure", no_wrap=True)
        for column in ("kind", "cadence", "next run"):
            table.add_column(column, overflow="fold")
        for proc in cb.procedures:
            first = next_runs(proc.schedule, now, 1)
            table.add_row(
                proc.id,
                proc.kind,
                cadence_for(proc),
                first[0].strftime("%a %d %b %H:%M %Z") if first else "on demand",
            )
        common.console.print(table)
    if not run_bundle or not binder.clients:
        return

    client_id = binder.clients[0].client.id
    # The outcome table says what failed and why; Prefect's tracebacks of the failure that is
    # there on purpose would only bury it (`make` exports WARNING). The run logs stay in Prefect.
    local.quiet_prefect_console()
    common.console.print(
        f"\nrunning the {cadence} bundle of {client_id} now "
        "(the first run starts Prefect's local API: up to a minute)"
    )
    outcomes = execute(
        client_id=client_id,
        procedure_id=None,
        cadence=cadence,
        actor=common.actor(),
        prefect_home=home / "prefect",
    )
    common.console.print(outcome_table(outcomes))
    failed = [o.procedure_id for o in outcomes if o.failed]
    if failed:
        common.console.print(
            f"{', '.join(failed)} failed: the demo's newest backup is stale on purpose. "
            "The failure hook recorded it as an incident in the store."
        )
    common.console.print(
        "\nTo run procedures yourself, point this shell at the demo, then run one:"
    )
    common.console.print(
        f'  eval "$(OPSBINDER_HOME={shlex.quote(str(home.resolve()))} opsbinder demo --env)"',
        soft_wrap=True,
        markup=False,
    )
    common.console.print("  opsbinder run check-tms-backup")


def _history(engine: Engine, client_id: str, backups: Path, now: datetime) -> None:
    """A year of the client's history, played through the core with a moved clock, once."""
    if has_history(engine, client_id):
        common.console.print(f"{client_id} has history in this store already: none played")
        return
    common.console.print(f"playing a year of {client_id}'s history (runs, incidents, sign-offs)")
    started = time.monotonic()
    year = build_year(engine, client_id, backups, now)
    common.console.print(
        f"history {year.start:%Y-%m-%d} to {year.end:%Y-%m-%d}: {year.runs} runs, "
        f"{year.failed} failed, {year.incidents} incidents ({time.monotonic() - started:.0f} s)"
    )
