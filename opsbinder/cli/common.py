"""What every command needs: the store, the binder, the clock, and clean errors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from opsbinder import accounts, audit, sign_in_throttle
from opsbinder.authorization import Principal
from opsbinder.clock import Clock, SystemClock, utc
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder, ClientBinder, Procedure
from opsbinder.errors import BadInput, Forbidden, NotFound, Refused
from opsbinder.settings import get_settings
from opsbinder.store.db import engine_for, session_scope
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


IncidentArgument = typer.Argument(..., help="the incident's number (#)")
MessageOption = typer.Option("", "--message", "-m", help="why, for the incident's timeline")
UsernameArgument = typer.Argument(..., help="the console user's name")
JsonOption = typer.Option(False, "--json", help="a JSON array on stdout, for scripts")


def print_json(data: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> None:
    """A listing as JSON on stdout (an array, or an object of arrays): times in UTC with their
    offset, nothing styled, nothing else on stdout."""
    plain = data if isinstance(data, Mapping) else list(data)
    typer.echo(json.dumps(plain, default=_json_value, ensure_ascii=False, indent=2))


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return str(value)


def limit_option(default: int, what: str = "entries") -> Any:
    """`--limit N`: the newest N `what` at the most."""
    return typer.Option(default, "--limit", min=1, max=100_000, help=f"at most this many {what}")


def client_filter(what: str = "entries") -> Any:
    """`--client ID`: only this client's `what`."""
    return typer.Option(None, "--client", help=f"only this client's {what}")


def one_client(option: str | None, argument: str | None) -> str:
    """The client named by `--client`, or by the positional spelling older scripts use."""
    if option and argument and option != argument:
        raise BadInput(f"two clients named: --client {option} and {argument}")
    client = option or argument
    if not client:
        raise BadInput("Missing option '--client'.")
    return client


def binder_folder(option: Path | None, argument: Path | None) -> Path | None:
    """The binder folder named by `-c/--config` (or $OPSBINDER_CONFIG_DIR), or by the positional
    spelling of old, which wins: it is always typed on the command line."""
    return argument or option


AdminOption = typer.Option(
    None,
    "--admin",
    metavar="USER",
    help="act as this console user, proven by the password in OPSBINDER_ADMIN_PASSWORD or "
    "asked for (needed on a locked-down client, and to lift a lockdown); default $OPSBINDER_ADMIN",
)


def principal(admin: str | None = None) -> Principal:
    """Who the CLI acts as: with `--admin USER` (or OPSBINDER_ADMIN), that console user once
    the password proves it; otherwise whoever runs it, by name only (never an admin). Ask
    before opening a session of your own: the proof reads the store in a transaction of its own.
    """
    settings = get_settings()
    username = admin or settings.admin
    if not username:
        return Principal.operator(actor())
    given = settings.admin_password.get_secret_value() if settings.admin_password else ""
    password = given or typer.prompt(f"password of {username}", hide_input=True, err=True)
    clock_ = clock()
    counted = [sign_in_throttle.account_key(username)]  # the CLI has no address to count

    def failed(s: Session) -> None:
        sign_in_throttle.failed(s, clock_, counted, username=username)
        audit.record(
            s,
            clock_,
            actor=username[:100],
            action="user.sign_in_failed",
            object_type="user",
            object_id=username[:100],
            details={"door": "cli"},
        )

    with session_scope(store()) as session:
        wait = sign_in_throttle.retry_after(session, clock_, counted)
        if wait is not None:  # the web's throttle: no password check while blocked
            raise Refused(
                f"refused: --admin {username}: too many failed sign-ins; "
                f"try again in {wait} seconds"
            )
        user = accounts.authenticate(session, username, password)
        if user is None:
            raise Forbidden(f"refused: --admin {username}: unknown user or wrong password", failed)
        sign_in_throttle.succeeded(session, username)
        return Principal.of_user(user, "cli")
