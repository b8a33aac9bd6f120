"""`opsbinder outbox list|deliver|retry|replay`: notifications not yet delivered, hook spool."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from opsbinder import outbox as core
from opsbinder import redaction
from opsbinder.cli import common
from opsbinder.clock import utc
from opsbinder.errors import Refused
from opsbinder.incidents.hook_reports import replay_spool
from opsbinder.settings import get_settings
from opsbinder.spool import pending_count
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage

outbox_app = typer.Typer(help="The notification outbox and the hook spool.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def list_messages(
    all_: bool = typer.Option(False, "--all", help="delivered ones too"),
    limit: int = common.limit_option(50, "messages"),
    as_json: bool = common.JsonOption,
) -> None:
    """Messages waiting to be delivered (with --all, delivered ones too), newest first."""
    with session_scope(common.store()) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
        if not all_:
            stmt = stmt.where(OutboxMessage.delivered_at.is_(None))
        rows = session.execute(stmt).scalars().all()
        redact = redaction.for_session(session)  # rows stored before errors were redacted
    if as_json:
        common.print_json(
            [
                {
                    "id": m.id,
                    "incident": m.incident_id,
                    "channel": m.channel,
                    "target": m.target,
                    "recipient": m.recipient,
                    "attempts": m.attempts,
                    "delivered_at": m.delivered_at,
                    "given_up_at": m.given_up_at,
                    "next_attempt_at": m.next_attempt_at,
                    "last_error": redact(m.last_error or ""),
                }
                for m in rows
            ]
        )
        return
    table = Table()
    for column in (
        "#",
        "incident",
        "channel",
        "target",
        "recipient",
        "attempts",
        "status",
        "last error",
    ):
        table.add_column(column)
    for m in rows:
        status = (
            "delivered"
            if m.delivered_at
            else "GIVEN UP"
            if m.given_up_at
            else f"next {utc(m.next_attempt_at):%H:%M:%S}"
        )
        table.add_row(
            str(m.id),
            str(m.incident_id or "-"),
            m.channel,
            m.target,
            m.recipient or "-",
            str(m.attempts),
            status,
            redact(m.last_error)[:60],
        )
    common.console.print(table)
    spooled = pending_count(get_settings().spool)
    if spooled:
        common.console.print(
            f"{spooled} hook report(s) waiting in the spool: opsbinder outbox replay"
        )


@outbox_app.command("deliver")
def deliver(limit: int = common.limit_option(200, "messages")) -> None:
    """Send what is due now (the sweeper does this every minute)."""
    report = core.deliver_due(common.store(), common.clock(), limit=limit)
    common.console.print(
        f"delivered {report.delivered}, failed {report.failed} (given up {report.given_up})"
    )
    for error in report.errors:
        common.err_console.print(f"  {error}", markup=False)


@outbox_app.command("retry")
def retry(message_id: int = typer.Argument(..., help="the message's id (outbox list)")) -> None:
    """Try a message again now, even one given up."""
    with session_scope(common.store()) as session:
        core.retry_now(session, common.clock(), message_id, common.actor())
    common.console.print(f"#{message_id} will be sent on the next delivery")


@outbox_app.command("replay")
def replay() -> None:
    """Put hook reports spooled while the store was unreachable into the store (idempotent)."""
    directory = get_settings().spool
    report = replay_spool(common.store(), directory, common.clock())
    if report.busy:
        raise Refused(f"another replay of {directory} is running; nothing done (try again later)")
    common.console.print(f"replayed {report.applied} spooled report(s) from {directory}")
    if report.failed:
        for error in report.errors:
            common.err_console.print(f"  {error}", markup=False)
        raise typer.Exit(1)
