"""`opsbinder incidents list|show|declare|ack|resolve|note|assign|reopen|severity|duplicate|
public|wait`: the incident lifecycle."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from opsbinder.actions import incidents as actions
from opsbinder.binder_store import client_binder
from opsbinder.cli import common
from opsbinder.clock import utc
from opsbinder.incidents import lifecycle, waits
from opsbinder.incidents.sla import ClockState
from opsbinder.incidents.sla_terms import clocks_of
from opsbinder.store.db import session_scope

incidents_app = typer.Typer(
    help="Incidents: list, show, acknowledge, resolve.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(incidents_app, name="incidents")


def _t(value) -> str:  # type: ignore[no-untyped-def]
    return utc(value).strftime("%Y-%m-%d %H:%M") if value else "-"


@incidents_app.command("list")
def list_incidents(
    client: str | None = typer.Option(None, help="only this client"),
    severity: str | None = typer.Option(None, help="sev1..sev4"),
    state: str | None = typer.Option(None, help="triggered, acknowledged, resolved or open"),
    limit: int = common.limit_option(50, "incidents"),
    as_json: bool = common.JsonOption,
) -> None:
    """Newest first."""
    with session_scope(common.store()) as session:
        rows = lifecycle.list_incidents(
            session, client_id=client, severity=severity, state=state, limit=limit
        )
    if as_json:
        data = [
            {
                "id": r.id,
                "client": r.client_id,
                "severity": r.severity,
                "state": r.state,
                "title": r.title,
                "opened_at": r.opened_at,
                "occurrences": r.occurrences,
                "assignee": r.assignee,
                "escalation_level": r.escalation_level,
                "source": r.source,
                "component": r.component,
                "public_title": r.public_title,
                "public_state": r.public_state,
                "primary_incident_id": r.primary_incident_id,
            }
            for r in rows
        ]
        common.print_json(data)
        return
    if not rows:
        common.console.print("no incidents match")
        return
    table = Table()
    for column in (
        "#",
        "opened (UTC)",
        "client",
        "sev",
        "state",
        "level",
        "×",
        "assignee",
        "title",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            _t(r.opened_at),
            r.client_id,
            r.severity,
            r.state,
            f"L{r.escalation_level}" if r.escalation_level else "-",
            str(r.occurrences),
            r.assignee or "-",
            r.title,
        )
    common.console.print(table)


@incidents_app.command("show")
def show(incident_id: int = common.IncidentArgument) -> None:
    """The incident and its whole timeline."""
    with session_scope(common.store()) as session:
        inc = lifecycle.get(session, incident_id)
        events = lifecycle.events(session, incident_id)
        now = common.clock().now()
        cb = client_binder(session, inc.client_id)
        clocks = clocks_of(session, inc, cb.contract, cb.client.timezone, now)
        waiting = waits.open_wait(session, incident_id)
    details = inc.details or {}
    common.console.print(f"[bold]#{inc.id} {escape(inc.title)}[/bold]")
    for label, value in (
        ("client", inc.client_id),
        ("severity", inc.severity),
        ("state", inc.state),
        ("opened", _t(inc.opened_at) + " UTC"),
        ("occurrences", f"{inc.occurrences} (last {_t(inc.last_occurrence_at)} UTC)"),
        ("acknowledged", f"{_t(inc.acknowledged_at)} by {inc.acknowledged_by or '-'}"),
        ("resolved", f"{_t(inc.resolved_at)} by {inc.resolved_by or '-'}"),
        ("assignee", inc.assignee or "-"),
        (
            "escalation",
            f"level {inc.escalation_level} of policy {inc.policy_snapshot.get('id', '-')}",
        ),
        ("dedup key", inc.dedup_key),
        ("source", inc.source + (f" · component {inc.component}" if inc.component else "")),
        ("public", f"{inc.public_title or '(unpublished)'} · {inc.public_state}"),
        ("duplicate of", f"#{inc.primary_incident_id}" if inc.primary_incident_id else "-"),
        ("flow run", details.get("link") or inc.flow_run_id or "-"),
        ("error", str(details.get("error") or "-")),
        *((f"SLA {c.name}", _clock(c)) for c in clocks),
        *(
            [
                (
                    "waiting",
                    f"on the client since {_t(waiting.started_at)} UTC ({waiting.started_by})",
                )
            ]
            if waiting
            else []
        ),
    ):
        common.console.print(f"  {label:<13} {value}", markup=False, highlight=False)
    if details.get("log_lines"):
        common.console.print("  last log lines:")
        for line in details["log_lines"]:
            common.console.print(f"    {line}", markup=False)
    common.console.print("timeline:")
    for e in events:
        common.console.print(
            f"  {utc(e.at):%Y-%m-%d %H:%M:%S}  {e.kind:<14} {e.actor:<18} {e.message}",
            markup=False,
        )


def _clock(state: ClockState) -> str:
    used = f"{_minutes(state.used)} of {_minutes(state.target)} used"
    due = f", due {_t(state.due_at)} UTC" if state.due_at else ", stands still"
    return f"{state.state} ({used}{'' if state.stopped_at else due})"


def _minutes(delta) -> str:  # type: ignore[no-untyped-def]
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


@incidents_app.command("ack")
def ack(
    incident_id: int = common.IncidentArgument,
    message: str = common.MessageOption,
    admin: str | None = common.AdminOption,
) -> None:
    """Acknowledge: you own it now; the escalation ladder stops."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        inc = actions.acknowledge(session, common.clock(), who, incident_id, message)
    common.console.print(f"#{inc.id} acknowledged by {inc.acknowledged_by}")


@incidents_app.command("resolve")
def resolve(
    incident_id: int = common.IncidentArgument,
    message: str = common.MessageOption,
    admin: str | None = common.AdminOption,
) -> None:
    """Resolve: paging and Severity-1 reminders stop; reopen if it comes back."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        inc = actions.resolve(session, common.clock(), who, incident_id, message)
    common.console.print(f"#{inc.id} resolved by {inc.resolved_by}")


@incidents_app.command("reopen")
def reopen(
    incident_id: int = common.IncidentArgument,
    message: str = common.MessageOption,
    admin: str | None = common.AdminOption,
) -> None:
    """Back to triggered; escalation starts again from level 1."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        inc = actions.reopen(session, common.clock(), who, incident_id, message)
    common.console.print(f"#{inc.id} reopened")


@incidents_app.command("note")
def note(
    incident_id: int = common.IncidentArgument,
    message: str = typer.Argument(..., help="the note"),
    admin: str | None = common.AdminOption,
) -> None:
    """Add a note to the incident's timeline (audited)."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.note(session, common.clock(), who, incident_id, message)
    common.console.print(f"note added to #{incident_id}")


@incidents_app.command("assign")
def assign(
    incident_id: int = common.IncidentArgument,
    assignee: str = typer.Argument(..., help="who owns it"),
    admin: str | None = common.AdminOption,
) -> None:
    """Hand the incident to someone (audited)."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.assign(session, common.clock(), who, incident_id, assignee)
    common.console.print(f"#{incident_id} assigned to {assignee}")


@incidents_app.command("declare")
def declare(
    client: str = typer.Option(..., "--client", help="the client it happens to"),
    severity: str = typer.Option(..., "--severity", help="sev1..sev4"),
    title: str = typer.Option(..., "--title", help="the internal title, for responders"),
    public_title: str = typer.Option(
        "", "--public-title", help="what the client's status page shows (else: unpublished)"
    ),
    impact: str = typer.Option("", "--impact", help="business impact"),
    dedup_key: str | None = typer.Option(
        None, "--dedup-key", help="the client's key: one open incident per key"
    ),
    component: str | None = typer.Option(
        None, "--component", help="a component id of the client's binder (status page)"
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Declare an incident by hand; sev1 starts the Severity-1 process at once."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        inc = actions.declare(
            session,
            common.clock(),
            who,
            client_id=client,
            severity=severity,
            title=title,
            public_title=public_title,
            impact=impact,
            dedup_key=dedup_key,
            component=component,
        )
        number, due = inc.id, inc.next_update_due
    common.console.print(f"#{number} declared for {client} ({severity})", markup=False)
    if due is not None:
        common.console.print(
            f"Severity-1 process started: management informed, first update due "
            f"{_t(due)} UTC (opsbinder updates post {number} ...)",
            markup=False,
        )


@incidents_app.command("severity")
def change_severity(
    incident_id: int = common.IncidentArgument,
    severity: str = typer.Argument(..., help="sev1..sev4"),
    reason: str = typer.Option("", "--reason", "-m", help="why (audited)"),
    admin: str | None = common.AdminOption,
) -> None:
    """Raise or lower; raising to sev1 starts the Severity-1 process, lowering stops it."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.change_severity(session, common.clock(), who, incident_id, severity, reason)
    common.console.print(f"#{incident_id} is {severity} now")


@incidents_app.command("duplicate")
def duplicate(
    incident_id: int = common.IncidentArgument,
    primary: int = typer.Option(..., "--of", help="the primary incident"),
    admin: str | None = common.AdminOption,
) -> None:
    """Link a duplicate to its primary (same client); the duplicate is resolved."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.link_duplicate(session, common.clock(), who, incident_id, primary)
    common.console.print(f"#{incident_id} is a duplicate of #{primary}")


@incidents_app.command("public")
def set_public(
    incident_id: int = common.IncidentArgument,
    title: str | None = typer.Option(None, "--title", help="the public title"),
    state: str | None = typer.Option(
        None, "--state", help="investigating, identified, monitoring or resolved"
    ),
    admin: str | None = common.AdminOption,
) -> None:
    """Set what the client's status page shows of the incident."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        inc = actions.set_public(
            session, common.clock(), who, incident_id, title=title, state=state
        )
        shown = f"{inc.public_title} ({inc.public_state})"
    common.console.print(f"#{incident_id}: the client sees {shown}", markup=False)


@incidents_app.command("wait")
def wait(
    incident_id: int = common.IncidentArgument,
    clear: bool = typer.Option(False, "--clear", help="the client answered: clocks run again"),
    message: str = common.MessageOption,
    admin: str | None = common.AdminOption,
) -> None:
    """Waiting on the client: the SLA clocks stand still until --clear (audited)."""
    who = common.principal(admin)
    with session_scope(common.store()) as session:
        actions.wait_on_client(
            session, common.clock(), who, incident_id, waiting=not clear, message=message
        )
    if clear:
        common.console.print(f"#{incident_id} no longer waits on the client; SLA clocks run")
    else:
        common.console.print(f"#{incident_id} waits on the client; SLA clocks stand still")
