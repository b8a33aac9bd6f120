"""What every command needs: the store, the binder, the clock, and clean errors."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from opsbinder.authorization import Principal
from opsbinder.clock import Clock, SystemClock
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder, ClientBinder, Procedure
from opsbinder.errors import NotFound
from opsbinder.settings import get_settings
from opsbinder.store.db import engine_for
from opsbinder.store.migrate import pending, unreachable, upgrade

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

ConfigDirOption = typer.Option(
    None,
    "--config",
    "-c",
    envvar="OPSBINDER_CONFIG_DIR",
    help="binder folder (one client's folder, or a folder of client folders)",
)


def clock() -> Clock:
    return SystemClock()


def config_dir(path: Path | None) -> Path:
    return path or get_settings().config_dir


def binder(path: Path | None) -> Binder:
    return load_binder(config_dir(path))


def binder_procedure(path: Path | None, procedure: str) -> tuple[ClientBinder, Procedure]:
    """A procedure of the binder by `id` or `client/id`: a mistyped name is exit 3, not a bug."""
    try:
        return binder(path).find_procedure(procedure)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from exc


def store() -> Engine:
    """The store, brought to the newest schema first: a new user never runs migrations by hand.

    Every command reaches the store through here, so a store that cannot be reached is one
    line and exit 5 everywhere, never a driver's traceback.
    """
    engine = engine_for(get_settings().store_url)
    try:
        if pending(engine):
            upgrade(engine)
    except DBAPIError as exc:  # what migrate does not already name: a driver's interface error
        raise unreachable(engine, exc) from exc
    return engine


def actor() -> str:
    """Who the audit log names: the `actor` setting (OPSBINDER_ACTOR), else the login name."""
    import getpass

    return get_settings().actor or getpass.getuser()


def principal() -> Principal:
    """The CLI as whoever runs it (the authorization rule's operator: never an admin)."""
    return Principal.operator(actor())
