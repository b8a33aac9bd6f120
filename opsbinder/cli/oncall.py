"""`opsbinder oncall now|at|ical`: who is on call, from the schedules loaded in the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select

from opsbinder import oncall as core
from opsbinder.binder_store import client_binder
from opsbinder.cli import common
from opsbinder.config.models import ClientBinder, OnCallSchedule
from opsbinder.errors import NotFound
from opsbinder.local_time import parse_local
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client

oncall_app = typer.Typer(help="On-call schedules.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(oncall_app, name="oncall")


def _binders(client: str | None) -> list[ClientBinder]:
    with session_scope(common.store()) as session:
        ids = (
            [client]
            if client
            else list(session.execute(select(Client.id).order_by(Client.id)).scalars())
        )
        return [client_binder(session, cid) for cid in ids]


def _find(schedule: str, client: str | None) -> tuple[ClientBinder, OnCallSchedule]:
    found = [(cb, s) for cb in _binders(client) for s in cb.oncall_schedules if s.id == schedule]
    if not found:
        raise NotFound(
            f"no on-call schedule {schedule!r}" + (f" for client {client}" if client else "")
        )
    if len(found) > 1:
        names = ", ".join(cb.client.id for cb, _ in found)
        raise NotFound(f"schedule {schedule!r} exists for several clients ({names}): add --client")
    return found[0]


def _on_call(
    rows: list[tuple[ClientBinder, OnCallSchedule]], instant: datetime
) -> list[dict[str, Any]]:
    """Per schedule: who is on call at `instant` (None: a gap) and until when."""
    found = []
    for cb, schedule in rows:
        who = core.on_call(schedule, instant)
        names = {c.id: c.name for c in cb.contacts}
        upcoming = core.shifts(schedule, instant, instant + timedelta(days=31))
        found.append(
            {
                "client": cb.client.id,
                "schedule": schedule.id,
                "timezone": schedule.timezone,
                "at": instant,
                "contact": who,
                "name": names.get(who, who) if who else None,
                "until": upcoming[0].end if upcoming else None,
            }
        )
    return found


def _table(found: list[dict[str, Any]]) -> Table:
    table = Table()
    for column in ("client", "schedule", "local time", "on call", "until"):
        table.add_column(column)
    for row in found:
        zone = ZoneInfo(row["timezone"])
        until = row["until"]
        table.add_row(
            row["client"],
            row["schedule"],
            row["at"].astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z"),
            row["name"] or "[red]nobody (gap)[/red]",
            until.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z") if until else "-",
        )
    return table


@oncall_app.command("now")
def now(
    client: str | None = typer.Option(None, "--client", help="only this client"),
    as_json: bool = common.JsonOption,
) -> None:
    """Who is on call right now, per schedule."""
    instant = common.clock().now()
    rows = [(cb, s) for cb in _binders(client) for s in cb.oncall_schedules]
    if as_json:
        common.print_json(_on_call(rows, instant))
        return
    if not rows:
        common.console.print("no on-call schedules loaded (opsbinder load)")
        return
    common.console.print(_table(_on_call(rows, instant)))


@oncall_app.command("at")
def at(
    when: str = typer.Argument(
        ..., help='local time of the schedule\'s zone, e.g. "2026-03-29 02:30"'
    ),
    client: str = typer.Option(..., help="the client whose schedules to read"),
    schedule: str | None = typer.Option(None, help="only this schedule"),
    fold: str | None = typer.Option(
        None, help="for a time that occurs twice (clocks go back): earlier or later"
    ),
) -> None:
    """Who is (or was, or will be) on call at a local time."""
    rows = [
        (cb, s)
        for cb in _binders(client)
        for s in cb.oncall_schedules
        if schedule is None or s.id == schedule
    ]
    if not rows:
        raise NotFound(
            f"no on-call schedule for client {client}" + (f" named {schedule}" if schedule else "")
        )
    for cb, sched in rows:
        typed = parse_local(when, sched.timezone, field="WHEN", fold=fold)
        if typed.note:
            hint = "" if "jump forward" in typed.note else " (--fold earlier|later)"
            common.err_console.print(f"note: {typed.note}{hint}", markup=False)
        common.console.print(_table(_on_call([(cb, sched)], typed.instant)))


@oncall_app.command("ical")
def ical(
    schedule: str = typer.Argument(..., help="schedule id"),
    client: str | None = typer.Option(
        None, "--client", help="the client of the schedule (when two clients use its id)"
    ),
    days: int = typer.Option(90, min=1, max=730, help="how far ahead"),
    contact: str | None = typer.Option(None, help="only this person's shifts"),
) -> None:
    """An iCalendar feed of the shifts on stdout: opsbinder oncall ical l1-weekly > l1.ics"""
    import sys

    cb, sched = _find(schedule, client)
    start = common.clock().now() - timedelta(days=7)
    names = {c.id: c.name for c in cb.contacts}
    sys.stdout.buffer.write(
        core.ical(sched, start, start + timedelta(days=days + 7), names=names, contact=contact)
    )
