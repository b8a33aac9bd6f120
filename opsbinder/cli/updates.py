"""`opsbinder updates post|list|stakeholders`: status updates from the command line.

There is deliberately no edit or delete command: post a correction with --corrects N.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from opsbinder.actions import incidents as actions
from opsbinder.cli import common
from opsbinder.clock import utc
from opsbinder.incidents import lifecycle, stakeholders, status_updates
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, StatusUpdate

updates_app = typer.Typer(help="Severity-1 status updates (append-only, hash-chained).")


def register(app: typer.Typer) -> None:
    app.add_typer(updates_app, name="updates")


def _when(session: Session, incident: Incident, value: str | None) -> datetime | None:
    if not value:
        return None
    typed = actions.local_time_of(session, incident, value, "--next-update")
    if typed.note:
        common.err_console.print(f"note: {typed.note}", markup=False)
    return typed.instant


@updates_app.command("post")
def post(
    incident: int = typer.Argument(..., help="incident number"),
    status: str = typer.Option(..., "--status", help="current status"),
    next_steps: str = typer.Option(..., "--next-steps", help="what happens next, and who does it"),
    impact: str = typer.Option(..., "--impact", help="business impact"),
    bridge: str = typer.Option("", "--bridge", help="bridge / call link (http or https)"),
    next_update: str | None = typer.Option(
        None, "--next-update", help="time of the next update, in the client's zone unless given"
    ),
    corrects: int | None = typer.Option(None, "--corrects", help="the update this one corrects"),
    force: bool = typer.Option(False, "--force", help="post even if the policy says too soon"),
    admin: str | None = common.AdminOption,
) -> None:
    """Post a Severity-1 update; stakeholders are notified with the link to the status page."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        row = lifecycle.get(session, incident)
        update = actions.post_update(
            session,
            common.clock(),
            who,
            incident,
            current_status=status,
            next_steps=next_steps,
            business_impact=impact,
            bridge_url=bridge,
            next_update_at=_when(session, row, next_update),
            corrects_seq=corrects,
            force=force,
        )
        zone = ZoneInfo(actions.client_zone(session, row))
        due = utc(update.next_update_at).astimezone(zone) if update.next_update_at else None
    common.console.print(
        f"update #{update.seq} posted on incident #{incident} (hash {update.hash[:12]}); "
        + (f"next update due {due:%Y-%m-%d %H:%M %Z}" if due else "no next update promised")
    )


@updates_app.command("list")
def list_updates(
    incident: int = common.IncidentArgument, as_json: bool = common.JsonOption
) -> None:
    """Every update of an incident, oldest first, and whether the hash chain verifies."""
    with session_scope(common.store()) as session:
        lifecycle.get(session, incident)
        rows = status_updates.updates_of(session, incident)
        report = status_updates.verify_chain(session, incident)
    if as_json:
        common.print_json(
            [
                {
                    "seq": u.seq,
                    "corrects_seq": u.corrects_seq,
                    "posted_at": u.posted_at,
                    "author": u.author,
                    "current_status": u.current_status,
                    "business_impact": u.business_impact,
                    "next_steps": u.next_steps,
                    "bridge_url": u.bridge_url,
                    "next_update_at": u.next_update_at,
                }
                for u in rows
            ]
        )
    else:
        common.console.print(_updates_table(rows))
    if report.ok:
        say = common.err_console if as_json else common.console  # stdout stays pure JSON
        say.print(f"chain verifies: {report.count} update(s), nothing edited or removed")
    else:
        for problem in report.problems:
            common.err_console.print(f"[red]chain broken:[/red] {problem}")
        raise typer.Exit(1)


def _updates_table(rows: Sequence[StatusUpdate]) -> Table:
    table = Table("#", "posted (UTC)", "author", "status", "impact", "next steps", "next update")
    for u in rows:
        seq = f"{u.seq}" + (f" (corrects {u.corrects_seq})" if u.corrects_seq else "")
        table.add_row(
            seq,
            f"{u.posted_at:%Y-%m-%d %H:%M}",
            u.author,
            u.current_status,
            u.business_impact,
            u.next_steps,
            f"{u.next_update_at:%Y-%m-%d %H:%M}" if u.next_update_at else "-",
        )
    return table


@updates_app.command("stakeholders")
def stakeholder_list(
    incident: int = typer.Argument(..., help="incident number"),
    add: str | None = typer.Option(
        None, "--add", help="a contact id of the client, or 'account_executive'"
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Who is told about new updates; --add puts another contact on the list."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        if add:
            actions.add_stakeholder(session, common.clock(), who, incident, add)
        people = stakeholders.stakeholders(session, lifecycle.get(session, incident))
    for p in people:
        extra = " (account executive)" if p.account_executive else ""
        common.console.print(f"{p.contact}\t{p.name}\t{p.role}{extra}\t{p.source}")


@updates_app.command("commander")
def commander(
    incident: int = typer.Argument(..., help="incident number"),
    contact: str = typer.Argument(..., help="a contact id of the client"),
    admin: str | None = common.AdminOption,
) -> None:
    """Name the incident commander: reminded before each update is due."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.set_commander(session, common.clock(), who, incident, contact)
    common.console.print(f"{contact} is the commander of incident #{incident}")
