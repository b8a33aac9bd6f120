"""`opsbinder db upgrade|status`: the store's schema, through Alembic migrations."""

from __future__ import annotations

import typer

from opsbinder.cli import common
from opsbinder.settings import get_settings
from opsbinder.store.db import engine_for
from opsbinder.store.migrate import current_heads, pending, upgrade

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to the store (OPSBINDER_DATABASE_URL, or the SQLite default)."""
    engine = engine_for(get_settings().store_url)
    heads = upgrade(engine)
    common.console.print(
        f"store {engine.url.render_as_string(hide_password=True)} at {', '.join(heads)}"
    )


@db_app.command("status")
def db_status() -> None:
    """Show the store's URL, its schema revision and pending migrations."""
    engine = engine_for(get_settings().store_url)
    common.console.print(f"store:   {engine.url.render_as_string(hide_password=True)}")
    common.console.print(f"applied: {', '.join(current_heads(engine)) or 'none'}")
    common.console.print(f"pending: {', '.join(pending(engine)) or 'none'}")
