"""The figures of a manager's report, computed by the database (GROUP BY), never by loading runs.

Definitions, so a reader of the report can check them:
- runs: executions of the period (started in it), dry runs left out; skipped and missed rows
  are counted apart.
- success rate: ok / (ok + failed + crashed + timed out + cancelled).
- on-time rate: scheduled runs that started within the procedure's grace of their scheduled
  time, over all scheduled runs that were due (missed ones included, skipped ones not).
- MTTA / MTTR: mean seconds from an incident's opening to its acknowledgement / resolution, over
  the incidents opened in the period that were acknowledged / resolved.
- SLA attainment per severity: the incidents opened in the period whose response and resolution
  clocks never breached (no `sla_breached` on their timeline, which the sweep records once per
  clock), over all incidents of that severity opened in the period; None for a client whose
  contract sets no target (the report leaves those out).
- Severity-1 update punctuality: status updates of sev1 incidents posted in the period no later
  than the time the previous update promised (its next_update_at), over all such updates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, literal, or_, select, type_coerce
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from opsbinder.store.models import Incident, IncidentEvent, Procedure, Run, StatusUpdate

FAILED = ("failed", "crashed", "timed_out", "cancelled")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


@dataclass
class Figures:
    """Additive counts and sums: a client's figures are the sum of its procedures'."""

    runs: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    missed: int = 0
    due: int = 0
    on_time: int = 0
    rows_purged: int = 0
    bytes_archived: int = 0
    incidents: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    breached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    acked: int = 0
    ack_seconds: float = 0.0
    resolved: int = 0
    resolve_seconds: float = 0.0
    updates_due: int = 0
    updates_on_time: int = 0

    def add(self, other: Figures) -> None:
        # the all-clients report adds ~20,000 of these: the field names are looked up once
        for name in _SCALARS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.incidents, other.incidents), (self.breached, other.breached)):
            for sev, n in theirs.items():
                mine[sev] = mine.get(sev, 0) + n

    @property
    def success_rate(self) -> float | None:
        finished = self.ok + self.failed
        return self.ok / finished if finished else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def mtta_seconds(self) -> float | None:
        return self.ack_seconds / self.acked if self.acked else None

    @property
    def mttr_seconds(self) -> float | None:
        return self.resolve_seconds / self.resolved if self.resolved else None

    @property
    def update_punctuality(self) -> float | None:
        return self.updates_on_time / self.updates_due if self.updates_due else None

    @property
    def sla_attainment(self) -> dict[str, float | None]:
        """Per severity: the share of its incidents that kept both SLA clocks."""
        return {
            sev: (1 - self.breached.get(sev, 0) / n) if (n := self.incidents.get(sev, 0)) else None
            for sev in SEVERITIES
        }

    @property
    def breach_count(self) -> int:
        return sum(self.breached.values())

    @property
    def incident_count(self) -> int:
        return sum(self.incidents.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "missed": self.missed,
            "success_rate": self.success_rate,
            "on_time_rate": self.on_time_rate,
            "rows_purged": self.rows_purged,
            "bytes_archived": self.bytes_archived,
            "incidents": dict(self.incidents),
            "sla_breached": dict(self.breached),
            "sla_attainment": self.sla_attainment,
            "mtta_seconds": self.mtta_seconds,
            "mttr_seconds": self.mttr_seconds,
            "sev1_updates_due": self.updates_due,
            "sev1_updates_on_time": self.updates_on_time,
            "sev1_update_punctuality": self.update_punctuality,
        }


_SCALARS = tuple(f.name for f in fields(Figures) if f.name not in ("incidents", "breached"))


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    if dialect == "postgresql":
        # EXTRACT answers numeric; the figure is a float of seconds on both dialects.
        return type_coerce(func.extract("epoch", later - earlier), Float)
    return (func.julianday(later) - func.julianday(earlier)) * literal(86400.0)


def bucket_of(column: Any, edges: Sequence[date]) -> ColumnElement[int]:
    """Which period [edges[i], edges[i+1]) a time falls in: one scan serves every month."""
    inner = edges[1:-1] or edges[-1:]  # one period: still an expression (GROUP BY 0 is a position)
    return case(*((column < edge, i) for i, edge in enumerate(inner)), else_=len(edges) - 2)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _metric(name: str) -> ColumnElement[float]:
    return func.coalesce(func.sum(cast(Run.metrics[name].as_float(), Float)), 0)


RUN_FIGURES = (
    "runs", "ok", "failed", "skipped", "missed", "due", "on_time", "rows_purged", "bytes_archived"
)  # fmt: skip


def of_run_row(row: Any) -> Figures:
    """The run figures of a result row labelled with RUN_FIGURES (raw or rolled up)."""
    return Figures(
        runs=int(row.runs),
        ok=int(row.ok),
        failed=int(row.failed),
        skipped=int(row.skipped),
        missed=int(row.missed),
        due=int(row.due),
        on_time=int(row.on_time),
        rows_purged=int(row.rows_purged or 0),
        bytes_archived=int(row.bytes_archived or 0),
    )


def run_figures(
    conn: Connection,
    edges: list[datetime],
    client_ids: list[str] | None,
    slices: list[tuple[datetime, datetime]] | None = None,
) -> dict[tuple[int, int], Figures]:
    """Per (period, procedure id): one GROUP BY over the runs (index on client, started_at),
    only those started in one of `slices` if given. The report reads whole days from the
    roll-up (opsbinder/reports/run_days.py), which sums these same expressions per day."""
    dialect = conn.dialect.name
    bucket = bucket_of(Run.started_at, edges).label("bucket")
    late_by = seconds_between(dialect, Run.started_at, Run.scheduled_for)
    due = and_(Run.scheduled_for.is_not(None), Run.outcome != "skipped")
    query = (
        select(
            bucket,
            Run.procedure_id,
            _count(Run.outcome.not_in(("missed", "skipped"))).label("runs"),
            _count(Run.outcome == "ok").label("ok"),
            _count(Run.outcome.in_(FAILED)).label("failed"),
            _count(Run.outcome == "skipped").label("skipped"),
            _count(Run.outcome == "missed").label("missed"),
            _count(due).label("due"),
            _count(and_(due, Run.outcome != "missed", late_by <= Procedure.grace_seconds)).label(
                "on_time"
            ),
            _metric("rows_deleted").label("rows_purged"),
            _metric("bytes_archived").label("bytes_archived"),
        )
        .join(Procedure, Procedure.id == Run.procedure_id)
        .where(Run.started_at >= edges[0], Run.started_at < edges[-1], Run.dry_run.is_(False))
        .group_by(bucket, Run.procedure_id)
    )
    if client_ids is not None:
        query = query.where(Run.client_id.in_(client_ids))
    if slices is not None:
        query = query.where(
            or_(*(and_(Run.started_at >= a, Run.started_at < b) for a, b in slices))
        )
    out: dict[tuple[int, int], Figures] = {}
    for row in conn.execute(query):
        out[(int(row.bucket), row.procedure_id)] = of_run_row(row)
    return out


def incident_figures(
    conn: Connection, edges: list[datetime], client_ids: list[str] | None
) -> dict[tuple[int, str, int | None], Figures]:
    """Per (period, client, procedure id or None): incidents opened, by severity."""
    dialect = conn.dialect.name
    bucket = bucket_of(Incident.opened_at, edges).label("bucket")
    to_ack = seconds_between(dialect, Incident.acknowledged_at, Incident.opened_at)
    to_resolve = seconds_between(dialect, Incident.resolved_at, Incident.opened_at)
    breached = (
        select(IncidentEvent.id)
        .where(IncidentEvent.incident_id == Incident.id, IncidentEvent.kind == "sla_breached")
        .exists()
    )
    query = (
        select(
            bucket,
            Incident.client_id,
            Incident.procedure_id,
            Incident.severity,
            func.count().label("n"),
            func.count(Incident.acknowledged_at).label("acked"),
            func.coalesce(func.sum(to_ack), 0).label("ack_seconds"),
            func.count(Incident.resolved_at).label("resolved"),
            func.coalesce(func.sum(to_resolve), 0).label("resolve_seconds"),
            _count(breached).label("breached"),
        )
        .where(Incident.opened_at >= edges[0], Incident.opened_at < edges[-1])
        .group_by(bucket, Incident.client_id, Incident.procedure_id, Incident.severity)
    )
    if client_ids is not None:
        query = query.where(Incident.client_id.in_(client_ids))
    out: dict[tuple[int, str, int | None], Figures] = defaultdict(Figures)
    for row in conn.execute(query):
        fig = out[(int(row.bucket), row.client_id, row.procedure_id)]
        fig.incidents[row.severity] = fig.incidents.get(row.severity, 0) + int(row.n)
        fig.breached[row.severity] = fig.breached.get(row.severity, 0) + int(row.breached)
        fig.acked += int(row.acked)
        fig.ack_seconds += float(row.ack_seconds or 0)
        fig.resolved += int(row.resolved)
        fig.resolve_seconds += float(row.resolve_seconds or 0)
    return out


def update_figures(
    conn: Connection, edges: list[datetime], client_ids: list[str] | None
) -> dict[tuple[int, str, int | None], Figures]:
    """Sev1 status updates posted in the period, each against the promise of the one before."""
    ordered = (
        select(
            StatusUpdate.incident_id,
            StatusUpdate.posted_at,
            func.lag(StatusUpdate.next_update_at)
            .over(partition_by=StatusUpdate.incident_id, order_by=StatusUpdate.seq)
            .label("promised"),
        )
        .where(StatusUpdate.corrects_seq.is_(None))
        .subquery()
    )
    bucket = bucket_of(ordered.c.posted_at, edges).label("bucket")
    query = (
        select(
            bucket,
            Incident.client_id,
            Incident.procedure_id,
            func.count().label("due"),
            _count(ordered.c.posted_at <= ordered.c.promised).label("on_time"),
        )
        .join(Incident, Incident.id == ordered.c.incident_id)
        .where(
            Incident.severity == "sev1",
            ordered.c.promised.is_not(None),
            ordered.c.posted_at >= edges[0],
            ordered.c.posted_at < edges[-1],
        )
        .group_by(bucket, Incident.client_id, Incident.procedure_id)
    )
    if client_ids is not None:
        query = query.where(Incident.client_id.in_(client_ids))
    out: dict[tuple[int, str, int | None], Figures] = defaultdict(Figures)
    for row in conn.execute(query):
        fig = out[(int(row.bucket), row.client_id, row.procedure_id)]
        fig.updates_due += int(row.due)
        fig.updates_on_time += int(row.on_time)
    return out
