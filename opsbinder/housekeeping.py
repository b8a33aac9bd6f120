"""opsbinder keeps its own house: its store's records trimmed to the retention the README states.

The reason the product exists (disks fill when nobody purges) applies to opsbinder too: about
2,000 runs a day for 100 clients of 20 daily procedures, the outbox's delivered messages, ended
console sessions and the sign-in throttle's rows. The daily `housekeeping` flow trims them with
the rules DESIGN.md sets for a purge: a plan first (counted, reported by a dry run), a guard that
leaves a table whose plan is above `housekeeping_max_rows` untouched until a person approves, and
deletion in short batches of ids so the web workers never wait behind a long lock. Each table's
rule is a "shelf": the rows it may lose are older than the cutoff (a row exactly at the cutoff
stays). The audit log is never one of them: it is append-only and its hash chain is evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from opsbinder import audit
from opsbinder.clock import Clock, utc
from opsbinder.errors import RunFailed
from opsbinder.procedures import plan_guard
from opsbinder.settings import Settings, get_settings
from opsbinder.spool import REJECTED
from opsbinder.store.db import session_scope
from opsbinder.store.models import (
    ChangeEvent,
    ConsoleSession,
    HeartbeatPing,
    OutboxMessage,
    Run,
    SignInFailures,
)

BATCH = 2000  # ids per delete: one short transaction each

# The built-in flow, stated here so flows/registry.py and the binder export say the same.
FLOW = "housekeeping"
ENTRYPOINT = "flows/housekeeping.py:housekeeping"
CRON = "17 3 * * *"  # once a day at a quiet hour, off the full hour most procedures use
TIMEZONE = "UTC"
DOES = (
    "Trim opsbinder's own records (runs, outbox, console sessions, sign-in throttle, rejected "
    "spool) and Prefect's ended flow runs with their task runs and logs to the retention the "
    "README states; never the audit log."
)


@dataclass(frozen=True)
class Shelf:
    """One kind of record and when it may go: `old(cutoff, now)` selects the rows to trim."""

    name: str
    key: InstrumentedAttribute[Any]
    old: Callable[[datetime, datetime], ColumnElement[bool]]
    keep: Callable[[Settings], timedelta]


SHELVES: tuple[Shelf, ...] = (
    Shelf(
        "runs",
        Run.id,
        lambda cutoff, _: and_(Run.started_at < cutoff, Run.outcome != "running"),
        lambda s: timedelta(days=s.keep_runs_days),
    ),
    Shelf(
        "heartbeat pings",
        HeartbeatPing.id,
        lambda cutoff, _: HeartbeatPing.at < cutoff,
        lambda s: timedelta(days=s.keep_runs_days),
    ),
    Shelf(
        "change events",  # read beside incidents and in the history: kept as long as runs
        ChangeEvent.id,
        lambda cutoff, _: ChangeEvent.at < cutoff,
        lambda s: timedelta(days=s.keep_runs_days),
    ),
    Shelf(
        "outbox",  # delivered or given up; a message still being retried is never trimmed
        OutboxMessage.id,
        lambda cutoff, _: or_(
            OutboxMessage.delivered_at < cutoff, OutboxMessage.given_up_at < cutoff
        ),
        lambda s: timedelta(days=s.keep_outbox_days),
    ),
    Shelf(
        "console sessions",  # signed out, or past their absolute end however active
        ConsoleSession.id,
        lambda cutoff, _: or_(ConsoleSession.ended_at < cutoff, ConsoleSession.expires_at < cutoff),
        lambda s: timedelta(days=s.keep_sessions_days),
    ),
    Shelf(
        "sign-in throttle",
        SignInFailures.key,
        lambda cutoff, now: and_(
            SignInFailures.last_failure_at < cutoff,
            or_(SignInFailures.blocked_until.is_(None), SignInFailures.blocked_until < now),
        ),
        lambda s: timedelta(days=s.keep_throttle_days),
    ),
)


@dataclass
class Trimmed:
    """What one shelf had to trim and what was done; `refusal` is the plan guard's answer."""

    shelf: str
    cutoff: datetime
    planned: int
    deleted: int = 0
    batches: int = 0
    refusal: str | None = None


@dataclass
class Housekeeping:
    dry_run: bool
    shelves: list[Trimmed] = field(default_factory=list)
    spool_files_removed: int = 0
    spool_files_planned: int = 0

    @property
    def refused(self) -> list[Trimmed]:
        return [t for t in self.shelves if t.refusal]

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "store": {
                t.shelf: {
                    "cutoff": t.cutoff.isoformat(),
                    "planned": t.planned,
                    "deleted": t.deleted,
                    "batches": t.batches,
                    **({"refused": t.refusal} if t.refusal else {}),
                }
                for t in self.shelves
            },
            "spool": {
                "planned": self.spool_files_planned,
                "removed": self.spool_files_removed,
            },
        }


class Refusals(RunFailed):
    """The plan guard left some tables untouched: one line naming each and why."""

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = dict(refused)
        reasons = "; ".join(f"{name}: {why}" for name, why in refused.items())
        super().__init__(f"housekeeping refused {len(refused)} table(s): {reasons}"[:2000])

    def __reduce__(self) -> tuple[type, tuple[dict[str, str]]]:
        return (type(self), (self.refused,))


@dataclass(frozen=True)
class Duty:
    """The housekeeping as the binder export shows it, next to the client's procedures."""

    name: str
    kind: str
    flow_entrypoint: str
    deployment: str
    cron: str
    timezone: str
    enabled: bool
    does: str
    retention_days: dict[str, int]
    run_by_hand: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.name,
            "kind": self.kind,
            "flow_entrypoint": self.flow_entrypoint,
            "deployment": self.deployment,
            "cron": self.cron,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "does": self.does,
            "retention_days": self.retention_days,
            "run_by_hand": self.run_by_hand,
        }


def duty(settings: Settings | None = None) -> Duty:
    settings = settings or get_settings()
    return Duty(
        name=FLOW,
        kind="built-in",
        flow_entrypoint=ENTRYPOINT,
        deployment=f"{FLOW}/{FLOW}",
        cron=CRON,
        timezone=TIMEZONE,
        enabled=settings.housekeeping,
        does=DOES,
        retention_days={k: v.days for k, v in retention(settings).items()},
        run_by_hand="opsbinder housekeeping --dry-run, then opsbinder housekeeping",
    )


def retention(settings: Settings | None = None) -> dict[str, timedelta]:
    """Each shelf's retention as this install is set (the README's table, the binder export)."""
    settings = settings or get_settings()
    kept = {shelf.name: shelf.keep(settings) for shelf in SHELVES}
    kept["spool (rejected hook reports)"] = timedelta(days=settings.keep_spool_days)
    kept["Prefect flow runs, task runs, logs"] = timedelta(days=settings.keep_prefect_days)
    return kept


def trim_store(
    engine: Engine,
    clock: Clock,
    *,
    dry_run: bool = False,
    approve: bool = False,
    settings: Settings | None = None,
    actor: str = "housekeeping",
) -> Housekeeping:
    """Trim every shelf past its retention; a dry run counts and deletes nothing."""
    settings = settings or get_settings()
    now = utc(clock.now())
    report = Housekeeping(dry_run=dry_run)
    for shelf in SHELVES:
        report.shelves.append(
            _trim(engine, shelf, now, dry_run=dry_run, approve=approve, settings=settings)
        )
    _trim_spool(settings.spool, now - timedelta(days=settings.keep_spool_days), report)
    deleted = {t.shelf: t.deleted for t in report.shelves if t.deleted}
    if deleted or report.spool_files_removed:
        # deleting history is a change to the store like any other: who, when, how much
        with session_scope(engine) as session:
            audit.record(
                session,
                clock,
                actor=actor,
                action="housekeeping.trimmed",
                object_type="store",
                object_id="housekeeping",
                details={
                    "deleted": deleted,
                    "spool_files_removed": report.spool_files_removed,
                    "cutoffs": {t.shelf: t.cutoff.isoformat() for t in report.shelves},
                },
            )
    return report


def _trim(
    engine: Engine, shelf: Shelf, now: datetime, *, dry_run: bool, approve: bool, settings: Settings
) -> Trimmed:
    cutoff = now - shelf.keep(settings)
    condition = shelf.old(cutoff, now)
    with session_scope(engine) as session:
        planned = session.execute(select(func.count()).where(condition)).scalar_one()
    verdict = plan_guard.check(
        planned,
        max_rows=settings.housekeeping_max_rows,
        max_growth=1.0,
        usual=None,  # a first run on an old install is a real backlog, not a mistake
        approved=approve,
    )
    trimmed = Trimmed(shelf.name, cutoff, planned, refusal=verdict.refusal)
    if dry_run or verdict.refused or not planned:
        return trimmed
    while True:  # walk the key upwards, one short transaction per batch
        with session_scope(engine) as session:
            ids = list(
                session.execute(
                    select(shelf.key).where(condition).order_by(shelf.key).limit(BATCH)
                ).scalars()
            )
            if not ids:
                return trimmed
            table = shelf.key.class_.__table__
            result = session.execute(delete(table).where(shelf.key.in_(ids)))
            trimmed.deleted += int(getattr(result, "rowcount", 0) or 0)
            trimmed.batches += 1


def _trim_spool(directory: Path, cutoff: datetime, report: Housekeeping) -> None:
    """The spool's only file that grows by itself is the rejected hook reports (permanently
    refused by the store, kept for a person to read): gone once nothing was added for the
    retention. Pending reports and batches are never touched: they are not applied yet."""
    rejected = directory / REJECTED
    try:
        written = rejected.stat().st_mtime
    except FileNotFoundError:
        return
    if written >= cutoff.timestamp():
        return
    report.spool_files_planned += 1
    if not report.dry_run:
        rejected.unlink(missing_ok=True)
        report.spool_files_removed += 1
