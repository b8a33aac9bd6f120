"""`opsbinder integrations create|list|revoke`: the keys monitoring tools send events with.

A key belongs to one client and can only open, acknowledge and resolve that client's incidents
from events (PagerDuty Events v2, Alertmanager). Printed once, kept as a SHA-256 hash like API
tokens, revoked like them.
"""

from __future__ import annotations

import typer
from rich.table import Table

from opsbinder.actions import integrations as actions
from opsbinder.authorization import Principal
from opsbinder.cli import common
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope

integrations_app = typer.Typer(help="Integration keys for monitoring (PagerDuty, Alertmanager).")


def register(app: typer.Typer) -> None:
    app.add_typer(integrations_app, name="integrations")


@integrations_app.command("create")
def create(
    client: str = typer.Option(..., "--client", help="the client whose incidents it may open"),
    name: str = typer.Option(..., "--name", help="the tool it is for, e.g. grafana"),
) -> None:
    """Make a key; it is shown once, with the URLs to give the tool."""
    with session_scope(common.store()) as session:
        issued = actions.issue(
            session, common.clock(), Principal.operator(common.actor()), client, name
        )
    base = get_settings().base_url.rstrip("/")
    common.console.print(issued.token, markup=False, soft_wrap=True)
    common.err_console.print(
        f"shown once; only its hash is stored.\n"
        f"PagerDuty Events v2: {base}/v2/enqueue (the key is the routing key)\n"
        f"Alertmanager webhook: {base}/alertmanager/<key> or bearer token at {base}/alertmanager",
        markup=False,
        soft_wrap=True,
    )


@integrations_app.command("list")
def list_all(
    client: str | None = common.client_filter("integrations"), as_json: bool = common.JsonOption
) -> None:
    """Integration keys (their prefixes, never the keys)."""
    with session_scope(common.store()) as session:
        rows = actions.keys(session, Principal.operator(common.actor()), client)
    if as_json:
        common.print_json(
            [
                {
                    "prefix": t.prefix,
                    "client": t.client_id,
                    "name": t.name,
                    "created_at": t.created_at,
                    "last_used_at": t.last_used_at,
                    "revoked_at": t.revoked_at,
                }
                for t in rows
            ]
        )
        return
    table = Table("prefix", "client", "name", "created", "last used", "state")
    for t in rows:
        table.add_row(
            t.prefix,
            t.client_id or "",
            t.name,
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never",
            "revoked" if t.revoked_at else "active",
        )
    common.console.print(table)


@integrations_app.command("revoke")
def revoke(prefix: str = typer.Argument(..., help="the key's first 12 characters")) -> None:
    """Revoke a key at once: events sent with it are refused from now on."""
    with session_scope(common.store()) as session:
        row = actions.revoke(session, common.clock(), Principal.operator(common.actor()), prefix)
    common.console.print(f"integration key {row.prefix} ({row.client_id}, {row.name}) revoked")
