"""`opsbinder audit verify|list`: the hash-chained record of who did what."""

from __future__ import annotations

from datetime import UTC

import typer
from rich.table import Table
from sqlalchemy import select

from opsbinder import audit as audit_log
from opsbinder.cli import common
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    client: str | None = typer.Option(None, help="report only this client's breaks"),
) -> None:
    """Walk the hash chain; exit 1 naming every edited or deleted entry."""
    with session_scope(common.store()) as session:
        count, breaks = audit_log.verify(session, client)
    if breaks:
        common.err_console.print(f"[red]audit log chain BROKEN[/red] ({count} entries checked):")
        for item in breaks:
            common.err_console.print(f"  {item}")
        raise typer.Exit(1)
    common.console.print(f"audit log chain verifies: {count} entries, no edits, no gaps")


@audit_app.command("list")
def list_entries(
    client: str | None = typer.Option(None), limit: int = typer.Option(50, min=1, max=10000)
) -> None:
    """The newest entries first."""
    with session_scope(common.store()) as session:
        query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if client:
            query = query.where(AuditEntry.client_id == client)
        rows = session.execute(query).scalars().all()
    table = Table()
    for column in ("#", "time (UTC)", "actor", "action", "object"):
        table.add_column(column)
    for row in rows:
        at = row.at.replace(tzinfo=row.at.tzinfo or UTC).astimezone(UTC)
        table.add_row(
            str(row.seq), at.strftime("%Y-%m-%d %H:%M:%S"), row.actor, row.action, row.object_id
        )
    common.console.print(table)
