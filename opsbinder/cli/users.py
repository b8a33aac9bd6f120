"""`opsbinder users add|list|disable|enable|password|sessions|token|status-token|revoke`:
console accounts, their sign-ins, and access tokens.

Tokens are printed once and stored only as a SHA-256 hash; passwords as argon2id hashes.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import typer
from rich.table import Table

from opsbinder import accounts, console_sessions
from opsbinder.cli import common
from opsbinder.clock import utc
from opsbinder.errors import BadInput, NotFound
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import User

users_app = typer.Typer(help="Console users and API / status-page tokens.")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _new_password(*, from_stdin: bool) -> str:
    """A new password from stdin's first line, OPSBINDER_NEW_PASSWORD, or a prompt: never from
    an argument, which the process list and shell history would show to others."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise BadInput("--password-stdin: standard input held no password")
        return password
    given = get_settings().new_password
    password = given.get_secret_value() if given else ""
    if not password and not sys.stdin.isatty():  # nobody can answer a prompt: say so, exit 2
        raise BadInput(
            "no password: set OPSBINDER_NEW_PASSWORD, pass --password-stdin, or run this in a "
            "terminal"
        )
    return password or typer.prompt("password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(
    username: str = common.UsernameArgument,
    role: str = typer.Option(..., "--role", help="L1, L2, L3, manager or admin"),
    name: str = typer.Option("", "--name", help="display name"),
) -> None:
    """Add a console user; the password is asked for (or read from OPSBINDER_NEW_PASSWORD)."""
    password = _new_password(from_stdin=False)
    with session_scope(common.store()) as session:
        accounts.add_user(
            session,
            common.clock(),
            username=username,
            role=role,
            password=password,
            display_name=name,
            actor=common.actor(),
        )
    common.console.print(f"user {username} ({role}) added")


@users_app.command("list")
def list_all(as_json: bool = common.JsonOption) -> None:
    """Users and tokens (never the secrets themselves)."""
    from sqlalchemy import select

    with session_scope(common.store()) as session:
        users = list(session.execute(select(User).order_by(User.username)).scalars())
        tokens = accounts.list_tokens(session)
    if as_json:
        common.print_json(
            {
                "users": [
                    {
                        "username": u.username,
                        "name": u.display_name,
                        "role": u.role,
                        "active": u.active,
                    }
                    for u in users
                ],
                "tokens": [
                    {
                        "prefix": t.prefix,
                        "kind": t.kind,
                        "name": t.name,
                        "client": t.client_id,
                        "scopes": list(t.scopes),
                        "revoked_at": t.revoked_at,
                    }
                    for t in tokens
                ],
            }
        )
        return
    table = Table("user", "name", "role", "active")
    for u in users:
        table.add_row(u.username, u.display_name, u.role, "yes" if u.active else "no")
    common.console.print(table)
    table = Table("prefix", "kind", "name", "client", "scopes", "state")
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        table.add_row(t.prefix, t.kind, t.name, t.client_id or "all", " ".join(t.scopes), state)
    common.console.print(table)


def _expiry(days: int | None):  # type: ignore[no-untyped-def]
    return utc(common.clock().now()) + timedelta(days=days) if days else None


@users_app.command("token")
def token(
    name: str = typer.Argument(..., help="what the token is for"),
    scope: list[str] = typer.Option(..., "--scope", help=", ".join(accounts.SCOPES)),
    client: str | None = typer.Option(None, "--client", help="limit the token to one client"),
    user: str | None = typer.Option(None, "--user", help="act as this console user"),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, help="valid this many days (default: until revoked)"
    ),
) -> None:
    """Issue an API token; it is shown once."""
    with session_scope(common.store()) as session:
        issued = accounts.issue_api_token(
            session,
            common.clock(),
            name=name,
            scopes=scope,
            client_id=client,
            username=user,
            actor=common.actor(),
            expires_at=_expiry(expires_days),
        )
    common.console.print(issued.token, markup=False, soft_wrap=True)
    common.err_console.print("shown once; only its hash is stored")


@users_app.command("status-token")
def status_token(
    client_argument: str | None = typer.Argument(
        None, metavar="CLIENT", hidden=True, help="older spelling of --client"
    ),
    client_option: str | None = typer.Option(
        None, "--client", help="the client whose status page the token opens"
    ),
    name: str = typer.Option("status page", "--name", help="what the token is for, in lists"),
    expires_days: int | None = typer.Option(
        None, "--expires-days", min=1, help="valid this many days (default: until revoked)"
    ),
) -> None:
    """Issue a client's status-page token and print the link to hand to the client."""
    client = common.one_client(client_option, client_argument)
    with session_scope(common.store()) as session:
        issued = accounts.issue_status_token(
            session,
            common.clock(),
            client_id=client,
            name=name,
            actor=common.actor(),
            expires_at=_expiry(expires_days),
        )
    base = get_settings().base_url.rstrip("/")
    common.console.print(
        f"{base}/status/{client}?token={issued.token}", markup=False, soft_wrap=True
    )
    common.err_console.print("shown once; only its hash is stored")


@users_app.command("revoke")
def revoke(prefix: str = typer.Argument(..., help="the token's first 12 characters")) -> None:
    """Revoke a token at once (status pages and API)."""
    with session_scope(common.store()) as session:
        row = accounts.revoke_token(session, common.clock(), prefix=prefix, actor=common.actor())
    common.console.print(f"token {row.prefix} ({row.kind}, {row.name}) revoked")


@users_app.command("disable")
def disable(username: str = common.UsernameArgument) -> None:
    """Disable a user: every console session ends at once and the user's tokens are refused."""
    with session_scope(common.store()) as session:
        ended = accounts.set_active(
            session, common.clock(), username=username, active=False, actor=common.actor()
        )
    common.console.print(f"user {username} disabled; {ended} session(s) ended")


@users_app.command("enable")
def enable(username: str = common.UsernameArgument) -> None:
    """Enable a disabled user again (ended sessions stay ended: they sign in anew)."""
    with session_scope(common.store()) as session:
        accounts.set_active(
            session, common.clock(), username=username, active=True, actor=common.actor()
        )
    common.console.print(f"user {username} enabled")


@users_app.command("password")
def password(
    username: str = common.UsernameArgument,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="read the new password from standard input's first line"
    ),
) -> None:
    """Set a new password (asked for, OPSBINDER_NEW_PASSWORD, or --password-stdin); every
    console session of the user ends at once."""
    new = _new_password(from_stdin=password_stdin)
    with session_scope(common.store()) as session:
        ended = accounts.set_password(
            session, common.clock(), username=username, password=new, actor=common.actor()
        )
    common.console.print(f"password of {username} changed; {ended} session(s) ended")


@users_app.command("sessions")
def sessions(
    username: str = common.UsernameArgument,
    revoke_all: bool = typer.Option(False, "--revoke-all", help="end every one of them now"),
    as_json: bool = common.JsonOption,
) -> None:
    """A user's open console sessions (started, last seen, expiry, address, browser)."""
    clock = common.clock()
    with session_scope(common.store()) as session:
        user = accounts.user_by_name(session, username)
        if user is None:
            raise NotFound(f"user: no user {username!r}")
        rows = console_sessions.active(session, clock, user.id)
        listed = [
            {
                "id": row.id,
                "started_at": row.created_at,
                "last_seen_at": row.last_seen_at,
                "expires_at": row.expires_at,
                "address": row.address,
                "browser": row.user_agent,
            }
            for row in rows
        ]
        table = Table("session", "started", "last seen", "expires", "address", "browser")
        for row in rows:
            table.add_row(
                str(row.id),
                _when(row.created_at),
                _when(row.last_seen_at),
                _when(row.expires_at),
                row.address,
                row.user_agent[:60],
            )
        ended = 0
        if revoke_all:
            ended = console_sessions.revoke_all(session, clock, user, actor=common.actor())
    if as_json:
        common.print_json(listed)
    else:
        common.console.print(table)
    say = common.err_console if as_json else common.console  # stdout stays pure JSON
    if revoke_all:
        say.print(f"{ended} session(s) of {username} ended")
    else:
        say.print(f"{len(rows)} open session(s)")


def _when(value: datetime) -> str:
    return utc(value).strftime("%Y-%m-%d %H:%M:%SZ")
