"""`opsbinder validate` and `opsbinder schedule`: is the binder sound, and when does it run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from opsbinder.calendar import suppression
from opsbinder.cli import common
from opsbinder.config.dst import (
    HORIZON,
    ClockChange,
    clock_changes,
    describe,
    dst_warnings,
    effects,
)
from opsbinder.config.models import ClientBinder
from opsbinder.config.schedules import cadence_for
from opsbinder.errors import Refused, StoreError
from opsbinder.local_time import parse_local
from opsbinder.pauses import paused_by
from opsbinder.settings import get_settings
from opsbinder.store.db import engine_for, session_scope
from opsbinder.store.migrate import pending
from opsbinder.sync import sync_binder


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("schedule")(schedule)
    app.command("load")(load)


def validate(
    path: Path | None = typer.Argument(
        None, metavar="FOLDER", hidden=True, help="older spelling of -c/--config"
    ),
    config: Path | None = common.ConfigDirOption,
) -> None:
    """Check the binder: every file, field and cross-reference. Exit 2 listing every problem."""
    path = common.binder_folder(config, path)
    binder = common.binder(path)
    common.console.print(
        f"Binder {common.config_dir(path)}: valid ({len(binder.clients)} client(s))"
    )
    for cb in binder.clients:
        common.console.print(_client_line(cb), soft_wrap=True)
        table = Table(show_edge=False, pad_edge=False)
        table.add_column("procedure", no_wrap=True)  # ids are what people copy from here
        for column in ("kind", "schedule", "cadence", "sev"):
            table.add_column(column, overflow="fold")
        for proc in cb.procedures:
            zone = "" if proc.zone(cb.client.timezone) == cb.client.timezone else proc.zone("")
            table.add_row(
                proc.id + (" (paused)" if proc.paused else ""),
                proc.kind,
                f"{proc.schedule.cron} {zone}".strip() if proc.schedule else "on demand",
                cadence_for(proc),
                proc.severity,
            )
        common.console.print(table)
    warnings = dst_warnings(binder, common.clock().now())
    if warnings:
        common.console.print(
            f"{len(warnings)} DST warning(s): the binder is valid, but Prefect runs these "
            "schedules differently on clock-change days:"
        )
        for warning in warnings:
            common.console.print(f"  warning: {warning}", soft_wrap=True, markup=False)


def _client_line(cb: ClientBinder) -> str:
    counts = [
        (len(cb.procedures), "procedure"),
        (len(cb.contacts), "contact"),
        (len(cb.escalation_policies), "escalation policy"),
        (len(cb.oncall_schedules), "on-call schedule"),
        (len(cb.systems), "system"),
        (len(cb.maintenance_windows), "maintenance window"),
        (len(cb.holidays), "holiday"),
    ]
    parts = ", ".join(f"{n} {_plural(word, n)}" for n, word in counts)
    return f"{cb.client.id} ({cb.client.name}, {cb.client.timezone}): {parts}"


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    return word[:-1] + "ies" if word.endswith("y") and word[-2] not in "aeiou" else word + "s"


def schedule(
    procedure: str = typer.Argument(..., help="procedure id, or client/procedure"),
    count: int = typer.Option(5, "--count", "-n", min=1, max=100, help="how many runs to show"),
    across_dst: bool = typer.Option(
        False, "--across-dst", help="start the preview just before the next DST change"
    ),
    start: str | None = typer.Option(
        None,
        "--from",
        help="preview from this time instead of now (ISO; without offset: the procedure's zone)",
    ),
    path: Path | None = common.ConfigDirOption,
) -> None:
    """Preview the next runs exactly as Prefect will schedule them, across DST changes.

    Runs in a maintenance window or on a holiday are shown, marked as skipped.
    """
    from opsbinder.orchestrator.schedules import prefect_next_runs, prefect_runs_between

    client, proc = common.binder_procedure(path, procedure)
    if proc.schedule is None:
        common.console.print(
            f"{client.client.id}/{proc.id} runs on demand only: it has no schedule, so Prefect "
            f"runs it only when someone does (opsbinder run {client.client.id}/{proc.id})",
            soft_wrap=True,
            markup=False,
        )
        return
    cron, zone = proc.schedule.cron, proc.schedule.timezone
    # from now on, or from --from (inclusive: a run exactly at that time is shown)
    begin = _parse_from(start, zone) - timedelta(seconds=1) if start else common.clock().now()
    changes = clock_changes(zone, begin, begin + HORIZON)
    change = changes[0] if changes else None
    affected = effects(cron, zone, change) if change is not None else []
    shifted = {e.runs_at.astimezone(UTC): e for e in affected if e.runs_at is not None}
    first = begin
    if across_dst and change is not None:
        # two runs before the change, never before the start; Prefect returns at most 1,000
        # dates per call, so the look-back widens step by step
        for span in (timedelta(hours=6), timedelta(days=2), timedelta(days=35), HORIZON):
            before = prefect_runs_between(cron, zone, max(begin, change.at - span), change.at)
            if len(before) >= 2:
                break
        if before:
            first = max(begin, before[-2 if len(before) >= 2 else -1] - timedelta(seconds=1))
    runs: list[datetime] = []
    while len(runs) < count:  # exactly `count` runs, however Prefect pages them
        more = prefect_next_runs(cron, zone, runs[-1] if runs else first, count - len(runs))
        if not more:
            break
        runs.extend(more)
    if paused := _paused(client.client.id, proc.id, proc.paused):
        common.console.print(
            f"paused ({paused}): Prefect runs none of these until it is resumed "
            f"(opsbinder resume {proc.id} --client {client.client.id})",
            soft_wrap=True,
            markup=False,
        )
    table = Table(
        title=f"{client.client.id}/{proc.id}: {cron} ({zone}), "
        f"{cadence_for(proc)}; run times as Prefect schedules them"
    )
    for column in ("local time", "UTC", "note"):
        table.add_column(column)
    instants = [when.astimezone(UTC) for when in runs]
    # the change is shown where it falls when a shown run is after it or shifted by it
    show_change = change is not None and any(i >= change.at or i in shifted for i in instants)
    for when, instant in zip(runs, instants, strict=True):
        if show_change and change is not None and instant >= change.at:
            table.add_row(*_change_row(change, zone))
            show_change = False
        effect = shifted.get(instant)
        note = ""
        if effect is not None:
            note = (
                f"shifted: {effect.wall:%H:%M} does not exist"
                if effect.kind == "gap"
                else f"shifted: {effect.wall:%H:%M} repeats, runs once"
            )
        if reason := suppression(client, proc.id, when):
            note = "; ".join(filter(None, [note, f"skipped: {reason}"]))
        table.add_row(when.strftime("%a %Y-%m-%d %H:%M %Z"), f"{instant:%Y-%m-%d %H:%M}", note)
    if show_change and change is not None:  # after the last run shown, which it shifted
        table.add_row(*_change_row(change, zone))
    common.console.print(table)
    if any(i in shifted for i in instants):
        common.console.print(f"DST: {describe(affected, cron)}", soft_wrap=True, markup=False)


def _change_row(change: ClockChange, zone: str) -> tuple[str, str, str]:
    direction = "forward" if change.is_gap else "back"
    return (
        f"-- {(change.at + change.before):%a %Y-%m-%d %H:%M} "
        f"{(change.at - timedelta(seconds=1)).astimezone(ZoneInfo(zone)):%Z}",
        f"{change.at:%Y-%m-%d %H:%M}",
        f"clocks go {direction} to {change.at.astimezone(ZoneInfo(zone)):%H:%M %Z}",
    )


def _paused(client_id: str, key: str, in_binder: bool) -> str | None:
    """Who paused it: the binder (`paused: true`) or a person (`opsbinder pause`, lockdown).

    The store is read only when it exists and is at the current schema: a preview never
    creates or migrates a store.
    """
    if in_binder:
        return "paused: true in the binder"  # loaded as paused; `opsbinder resume` runs it
    url = make_url(get_settings().store_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None
    engine = engine_for(str(url))
    try:
        if pending(engine):
            return None
        with session_scope(engine) as session:
            return paused_by(session, client_id, key)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store to see whether {key} is paused: {exc}") from exc


def _parse_from(value: str, zone: str) -> datetime:
    typed = parse_local(value, zone, field="--from")
    if typed.note:
        common.err_console.print(f"note: {typed.note}", markup=False)
    return typed.instant.astimezone(ZoneInfo(zone))


def load(
    path: Path | None = typer.Argument(
        None, metavar="FOLDER", hidden=True, help="older spelling of -c/--config"
    ),
    config: Path | None = common.ConfigDirOption,
) -> None:
    """Validate the binder and load it into the store (what flows and the web use at run time)."""
    binder = common.binder(common.binder_folder(config, path))
    with session_scope(common.store()) as session:
        report = sync_binder(session, binder, common.clock(), actor=common.actor())
    for label, names in (
        ("created", report.created),
        ("updated", report.updated),
        ("removed", report.removed),
    ):
        for name in names:
            common.console.print(f"{label:8} {name}")
    common.console.print(
        f"{len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
    )
    if report.frozen:
        raise Refused(
            f"refused: {', '.join(report.frozen)} locked down: its binder stays as stored until "
            "an admin lifts the lockdown (opsbinder lockdown --lift --admin USER); the rest loaded"
        )
