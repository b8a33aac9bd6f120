"""`opsbinder audit verify|anchor|list`: the hash-chained record of who did what."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import typer
from rich.table import Table
from sqlalchemy import select

from opsbinder import audit as audit_log
from opsbinder import audit_anchor
from opsbinder.cli import common
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry

audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    client: str | None = typer.Option(None, help="walk only this client's own chain"),
    anchor: Path | None = typer.Option(
        None,
        help="anchors to check against: a receiver's copy or an export's audit-anchor.json "
        "(default: the anchor file of this install)",
    ),
) -> None:
    """Walk the hash chain and check it against the latest anchor; exit 1 naming every
    edited, deleted or cut-off entry."""
    settings = get_settings()
    path = anchor or settings.anchor_file
    sealed = audit_anchor.sealed_of(settings, path)
    with session_scope(common.store()) as session:
        count, breaks = audit_log.verify(session, client, sealed)
    what = f"{client}'s chain" if client else "audit log chain"
    if breaks:
        common.err_console.print(f"[red]{what} BROKEN[/red] ({count} entries checked):")
        for item in breaks:
            common.err_console.print(f"  {item}", markup=False, soft_wrap=True)
        raise audit_log.ChainBroken(f"{what} does not verify: {len(breaks)} problem(s)")
    common.console.print(f"{what} verifies: {count} entries, no edits, no gaps")
    latest = sealed.latest
    if latest is None:
        common.console.print(
            f"no anchor at {path}: a cut-off or rewritten log cannot be detected until one is "
            "written (opsbinder audit anchor, or the sweep)",
            markup=False,
            soft_wrap=True,
        )
    else:
        common.console.print(f"matches {latest.name} (#{latest.seq})", markup=False)


@audit_app.command("anchor")
def anchor(
    force: bool = typer.Option(True, help="write now even if the last anchor is recent"),
) -> None:
    """Seal the log's current head in the anchor file (the sweep does this every minute)."""
    settings = get_settings()
    outcome = audit_anchor.write_anchor(common.store(), common.clock(), force=force)
    if outcome.written and outcome.line is not None:
        common.console.print(
            f"anchored #{outcome.line['seq']} ({outcome.line['hash'][:12]}…) in "
            f"{settings.anchor_file}",
            markup=False,
        )
    else:
        common.console.print(outcome.why, markup=False)


@audit_app.command("list")
def list_entries(
    client: str | None = common.client_filter("entries"),
    limit: int = common.limit_option(50, "entries"),
    as_json: bool = common.JsonOption,
) -> None:
    """The newest entries first."""
    with session_scope(common.store()) as session:
        query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
        if client:
            query = query.where(AuditEntry.client_id == client)
        rows = session.execute(query).scalars().all()
    if as_json:
        common.print_json(
            [
                {
                    "seq": r.seq,
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "object_type": r.object_type,
                    "object_id": r.object_id,
                    "client": r.client_id,
                }
                for r in rows
            ]
        )
        return
    table = Table()
    for column in ("#", "time (UTC)", "actor", "action", "object"):
        table.add_column(column)
    for row in rows:
        at = row.at.replace(tzinfo=row.at.tzinfo or UTC).astimezone(UTC)
        table.add_row(
            str(row.seq), at.strftime("%Y-%m-%d %H:%M:%S"), row.actor, row.action, row.object_id
        )
    common.console.print(table)
