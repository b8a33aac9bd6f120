"""`opsbinder housekeeping`: what the daily housekeeping flow does, now, or as a dry run."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import typer
from rich.table import Table

from opsbinder import housekeeping as core
from opsbinder.cli import common

NO_SERVER = (
    "no Prefect server in use (PREFECT_API_URL unset and no opsbinder serve running here): "
    "Prefect's database not trimmed; the daily flow trims the one it runs on"
)


def register(app: typer.Typer) -> None:
    app.command("housekeeping")(housekeeping)


def housekeeping(
    dry_run: bool = typer.Option(False, "--dry-run", help="count what would go, delete nothing"),
    approve: bool = typer.Option(
        False, "--approve", help="trim tables whose plan is above OPSBINDER_HOUSEKEEPING_MAX_ROWS"
    ),
    store_only: bool = typer.Option(
        False, "--store-only", help="leave Prefect's database alone (no Prefect API needed)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON object instead of a table"),
) -> None:
    """Trim opsbinder's store and Prefect's database to the retention the README states (the
    daily `housekeeping` flow does this by itself); never the audit log. Exit 1 when the plan
    guard refused a table."""
    clock = common.clock()
    report = core.trim_store(
        common.store(), clock, dry_run=dry_run, approve=approve, actor=common.actor()
    )
    result: dict[str, Any] = report.as_dict()
    if not store_only:
        from opsbinder.orchestrator import local

        local.prefect_defaults()
        from opsbinder.orchestrator.housekeeping import trim_prefect_in_use

        found = trim_prefect_in_use(clock.now(), dry_run=dry_run)
        if found is None:
            result["prefect"] = {"skipped": NO_SERVER}
        else:
            trimmed = asdict(found)
            result["prefect"] = {**trimmed, "cutoff": trimmed["cutoff"].isoformat()}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print(result)
    if report.refused:
        raise core.Refusals({t.shelf: t.refusal or "" for t in report.refused})


def _print(result: dict[str, Any]) -> None:
    verb = "would delete" if result["dry_run"] else "deleted"
    table = Table(title=f"housekeeping ({'dry run' if result['dry_run'] else 'done'})")
    for column in ("records", "older than (UTC)", "planned", verb, "note"):
        table.add_column(column)
    for name, shelf in result["store"].items():
        done = shelf["planned"] if result["dry_run"] else shelf["deleted"]
        table.add_row(
            name, shelf["cutoff"][:19], str(shelf["planned"]), str(done), shelf.get("refused", "")
        )
    spool = result["spool"]
    table.add_row(
        "spool (rejected hook reports)",
        "",
        str(spool["planned"]),
        str(spool["planned"] if result["dry_run"] else spool["removed"]),
        "files",
    )
    if "prefect" in result and "skipped" not in result["prefect"]:
        p = result["prefect"]
        table.add_row(
            "Prefect flow runs (task runs, logs with them)",
            p["cutoff"][:19],
            str(p["planned"]),
            str(p["planned"] if result["dry_run"] else p["deleted"]),
            "",
        )
    common.console.print(table)
    if "skipped" in result.get("prefect", {}):
        common.console.print(result["prefect"]["skipped"])
    kept = ", ".join(f"{k} {v.days} days" for k, v in core.retention().items())
    common.console.print(f"retention: {kept}")
