"""`opsbinder history`: what ran, from the store and from Prefect, filtered."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from opsbinder.cli import common
from opsbinder.errors import OpsbinderError
from opsbinder.local_time import parse_local


def register(app: typer.Typer) -> None:
    app.command("history")(history)


def _when(text: str | None, option: str) -> datetime | None:
    return None if text is None else parse_local(text, "UTC", field=option).instant


def _fmt(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


def history(
    client: str | None = common.client_filter("runs"),
    procedure: str | None = typer.Option(None, "--procedure", help="only this procedure's runs"),
    kind: str | None = typer.Option(None, "--kind", help="only runs of this kind (purge, ...)"),
    outcome: str | None = typer.Option(None, "--outcome", help="ok, failed, crashed, late, ..."),
    since: str | None = typer.Option(None, "--since", help="from (UTC unless an offset is given)"),
    until: str | None = typer.Option(None, "--until", help="to, exclusive"),
    limit: int = common.limit_option(200, "runs"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines instead of a table"),
) -> None:
    """Runs recorded in the store, merged with Prefect's flow runs (late, crashed, cancelled)."""
    from opsbinder.history import OUTCOMES, HistoryFilter
    from opsbinder.history import history as build

    if outcome and outcome not in OUTCOMES:
        raise OpsbinderError(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    now = common.clock().now()
    flt = HistoryFilter(
        client_id=client,
        procedure=procedure,
        kind=kind,
        outcome=outcome,
        since=_when(since, "--since"),
        until=_when(until, "--until"),
        limit=limit,
    )
    reader = None
    from opsbinder.orchestrator.deployments import api_url

    if api_url():
        from opsbinder.orchestrator.flow_history import read_runs

        def reader(f: HistoryFilter):  # type: ignore[no-untyped-def]
            until_ = min(f.until, now) if f.until else now
            return read_runs(since=f.since, until=until_, tags=f.prefect_tags, limit=f.limit)

    result = build(common.store(), flt, now, reader)
    if as_json:
        import json

        for e in result.entries:
            data = {k: (_fmt(v) if isinstance(v, datetime) else v) for k, v in e.__dict__.items()}
            typer.echo(json.dumps(data))
        common.err_console.print(result.note)
        return
    table = Table(title=result.note, title_justify="left")
    for col in (
        "when (UTC)",
        "client",
        "procedure",
        "kind",
        "outcome",
        "source",
        "prefect",
        "reason",
    ):
        table.add_column(col)
    colors = {"ok": "green", "failed": "red", "crashed": "red", "missed": "red", "late": "yellow"}
    for e in result.entries:
        color = colors.get(e.outcome, "")
        table.add_row(
            _fmt(e.at),
            e.client_id,
            e.procedure,
            e.kind,
            f"[{color}]{e.outcome}[/{color}]" if color else e.outcome,
            e.source,
            e.prefect_state or "",
            (e.reason or "")[:60],
        )
    common.console.print(table)
