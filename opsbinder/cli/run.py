"""`opsbinder run`, `opsbinder done`, `opsbinder workitems`: procedures now, and sign-offs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import select

from opsbinder import workitems as items
from opsbinder.actions import procedures as actions
from opsbinder.cli import common
from opsbinder.errors import NotFound, OpsbinderError
from opsbinder.procedures.outcome import Outcome, key_metrics
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, WorkItem
from opsbinder.sync import sync_binder

STYLE = {"ok": "green", "skipped": "yellow", "running": "cyan"}


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("done")(done)
    app.command("workitems")(workitems)


def run(
    procedure: str | None = typer.Argument(None, help="procedure id, or client/procedure"),
    client: str | None = typer.Option(None, "--client", help="client id"),
    cadence: str | None = typer.Option(
        None, "--cadence", help="run the client's whole bundle: daily, weekly, monthly, ..."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="report what would happen, change nothing"
    ),
    approve: bool = typer.Option(
        False, "--approve", help="approve a purge/archive plan above its guard"
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="load this binder folder into the store first"
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Run a procedure (or a client's cadence bundle) now and show its outcome; exit 1 if any failed.

    Uses PREFECT_API_URL when set, else Prefect's ephemeral API started for this command. In a
    maintenance window or on a holiday the run is recorded as skipped, also when run by hand.
    """
    if bool(procedure) == bool(cadence):
        raise OpsbinderError("give a PROCEDURE, or --cadence with --client (not both)")
    if cadence and not client:
        raise OpsbinderError("--cadence needs --client (the client whose bundle to run)")
    if cadence and (dry_run or approve):
        raise OpsbinderError("--dry-run and --approve apply to one procedure, not to a bundle")
    engine = common.store()
    if config is not None:
        with session_scope(engine) as session:
            sync_binder(session, common.binder(config), common.clock(), actor=common.actor())
    if procedure:
        client, procedure = resolve(engine, procedure, client)
    who = common.principal(admin)
    with session_scope(engine) as session:
        actions.request_runs(
            session, common.clock(), who, str(client), procedure, cadence, how="in-process"
        )
    outcomes = execute(
        client_id=str(client),
        procedure_id=procedure,
        cadence=cadence,
        dry_run=dry_run,
        approve=approve,
        actor=who.actor,
    )
    common.console.print(outcome_table(outcomes))
    failed = [o for o in outcomes if o.failed]
    if failed:
        # the reasons in full, unwrapped, whatever the terminal's width did to the table
        for outcome in failed:
            common.err_console.print(
                f"{outcome.client_id}/{outcome.procedure_id}: {outcome.summary}",
                markup=False,
                soft_wrap=True,
            )
        common.err_console.print(f"[red]{len(failed)} of {len(outcomes)} failed[/red]")
        raise typer.Exit(1)


def execute(
    *,
    client_id: str,
    procedure_id: str | None,
    cadence: str | None,
    dry_run: bool = False,
    approve: bool = False,
    actor: str,
    prefect_home: Path | None = None,
) -> list[Outcome]:
    """Run now with a live display: a spinner while Prefect starts, a bar per long procedure."""
    from opsbinder.orchestrator import local

    local.prefect_defaults(home=prefect_home)
    from opsbinder.procedures import progress as hub

    what = f"{client_id}/{procedure_id}" if procedure_id else f"{client_id} {cadence} bundle"
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=common.err_console,
        transient=True,
    ) as bars:
        bars.add_task(f"running {what} ({local.api_description()})", total=None, count="")
        tasks: dict[str, TaskID] = {}

        def listener(label: str, done: int, total: int | None, message: str) -> None:
            if label not in tasks:
                tasks[label] = bars.add_task(label, total=total, count="")
            count = f"{done:,}/{total:,}" if total else f"{done:,}"
            bars.update(
                tasks[label],
                completed=done,
                total=total,
                description=f"{label} {message}",
                count=count,
            )

        with hub.listening(listener):
            if procedure_id:
                return [
                    local.run_procedure(
                        client_id, procedure_id, actor=actor, dry_run=dry_run, approve=approve
                    )
                ]
            return local.run_bundle(client_id, str(cadence), actor=actor)


def resolve(engine, procedure: str, client: str | None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(client, key) of a procedure in the store, from `key` or `client/key`."""
    prefix, _, key = procedure.rpartition("/")
    client = client or prefix or None
    with session_scope(engine) as session:
        query = select(Procedure.client_id).where(Procedure.key == key, Procedure.active.is_(True))
        if client:
            query = query.where(Procedure.client_id == client)
        clients = sorted(session.execute(query).scalars())
    if not clients:
        where = f" of client {client}" if client else ""
        raise NotFound(
            f"no procedure {key!r}{where} in the store; load the binder first "
            "(opsbinder load, or run --config DIR)"
        )
    if len(clients) > 1:
        raise OpsbinderError(
            f"procedure {key!r} exists for several clients ({', '.join(clients)}): use --client"
        )
    return clients[0], key


def outcome_table(outcomes: list[Outcome]) -> Table:
    table = Table(title="Outcome", title_justify="left", box=box.SIMPLE_HEAD)
    widest = max((len(o.procedure_id) for o in outcomes), default=9)
    table.add_column("procedure", overflow="fold", min_width=min(widest, 27), max_width=27)
    table.add_column("outcome")
    table.add_column("summary", overflow="fold", ratio=3)
    table.add_column("key metrics", overflow="fold", ratio=2)
    for o in outcomes:
        style = STYLE.get(o.outcome, "red")
        label = o.outcome + (" (dry run)" if o.dry_run else "")
        table.add_row(o.procedure_id, f"[{style}]{label}[/{style}]", o.summary, key_metrics(o))
    return table


def done(
    procedure: str = typer.Argument(..., help="procedure id, or client/procedure"),
    note: str = typer.Option(..., "--note", "-n", help="what was done (goes to the audit log)"),
    client: str | None = typer.Option(None, "--client", help="client id"),
    item: int | None = typer.Option(
        None,
        "--item",
        help="sign off this work item id (e.g. a reminder) instead of the newest checklist",
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Sign off the newest open checklist of a procedure (audited)."""
    engine = common.store()
    client_id, key = resolve(engine, procedure, client)
    who = common.principal(admin)
    with session_scope(engine) as session:
        signed = actions.sign_off(
            session,
            common.clock(),
            who,
            client_id=client_id,
            procedure_key=key,
            note=note,
            item_id=item,
        )
        late = " (late)" if signed.completed_at and _late(signed) else ""
        common.console.print(
            f"signed off {signed.kind} #{signed.id} of {client_id}/{key}: {signed.title}{late}",
            markup=False,
        )


def _late(item: WorkItem) -> bool:
    from opsbinder.clock import utc

    return bool(item.completed_at and utc(item.completed_at) > utc(item.due_at))


def workitems(
    client: str | None = typer.Option(None, "--client", help="only this client"),
    as_json: bool = common.JsonOption,
) -> None:
    """Open checklists and reminders, soonest due first."""
    engine = common.store()
    with session_scope(engine) as session:
        rows = items.open_items(session, client_id=client)
        keys: dict[int | None, str] = {
            p.id: p.key
            for p in session.execute(
                select(Procedure).where(Procedure.id.in_({r.procedure_id for r in rows}))
            ).scalars()
        }
        if as_json:
            common.print_json(
                [
                    {
                        "id": r.id,
                        "client": r.client_id,
                        "procedure": keys.get(r.procedure_id),
                        "kind": r.kind,
                        "title": r.title,
                        "owner": r.assignee,
                        "due_at": r.due_at,
                    }
                    for r in rows
                ]
            )
            return
        table = Table(
            title=f"Open work items ({len(rows)})", title_justify="left", box=box.SIMPLE_HEAD
        )
        for column in ("id", "procedure", "kind", "title", "owner", "due (UTC)"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(
                str(r.id),
                f"{r.client_id}/{keys.get(r.procedure_id, '-')}",
                r.kind,
                r.title,
                r.assignee or "-",
                r.due_at.strftime("%Y-%m-%d %H:%M"),
            )
    common.console.print(table)
