"""Heartbeats in the figures, like runs: per job that pings (a binder `heartbeats:` entry), its
pings, failures and silences per period, by the database (GROUP BY), never by loading pings.

Definitions, so a reader can check them:
- pings: successful and failed pings of the period (`start` and `log` pings say nothing of how
  the job went); ok and failed count them apart.
- missed: silences, each counted once however many due times it spanned: the heartbeat watch
  opened the heartbeat's incident because no ping came within the grace.
- late: of those silences, the ones a successful ping ended: the job ran, after its grace.
- last ping: the newest ping (not a `log` one) before the period's end, and what it said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from opsbinder.clock import utc
from opsbinder.reports.figures import bucket_of
from opsbinder.store.models import HeartbeatPing, Incident

SILENCE = "did not ping"  # the state the watch gives the incident of a ping that never came
LAST_KINDS = ("start", "success", "fail")


@dataclass
class PingCounts:
    ok: int = 0
    failed: int = 0
    missed: int = 0
    late: int = 0

    @property
    def pings(self) -> int:
        return self.ok + self.failed

    def add(self, other: PingCounts) -> None:
        self.ok, self.failed = self.ok + other.ok, self.failed + other.failed
        self.missed, self.late = self.missed + other.missed, self.late + other.late

    def as_dict(self) -> dict[str, int]:
        return {
            "pings": self.pings,
            "ok": self.ok,
            "failed": self.failed,
            "missed": self.missed,
            "late": self.late,
        }


@dataclass(frozen=True)
class LastPing:
    at: datetime
    kind: str  # start, success or fail


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def ping_counts(
    conn: Connection, edges: list[datetime], client_ids: list[str] | None
) -> dict[tuple[int, str, str], PingCounts]:
    """Per (period, client, heartbeat): two GROUP BYs, pings and the watch's silences."""
    out: dict[tuple[int, str, str], PingCounts] = {}
    bucket = bucket_of(HeartbeatPing.at, edges).label("bucket")
    pings = (
        select(
            bucket,
            HeartbeatPing.client_id,
            HeartbeatPing.heartbeat,
            _count(HeartbeatPing.kind == "success").label("ok"),
            _count(HeartbeatPing.kind == "fail").label("failed"),
        )
        .where(
            HeartbeatPing.at >= edges[0],
            HeartbeatPing.at < edges[-1],
            HeartbeatPing.kind.in_(("success", "fail")),
        )
        .group_by(bucket, HeartbeatPing.client_id, HeartbeatPing.heartbeat)
    )
    if client_ids is not None:
        pings = pings.where(HeartbeatPing.client_id.in_(client_ids))
    for row in conn.execute(pings):
        key = (int(row.bucket), row.client_id, row.heartbeat)
        out[key] = PingCounts(ok=int(row.ok), failed=int(row.failed))
    opened = bucket_of(Incident.opened_at, edges).label("bucket")
    beat = Incident.details["heartbeat"].as_string().label("beat")
    silences = (
        select(
            opened,
            Incident.client_id,
            beat,
            func.count(Incident.id).label("missed"),
            _count(and_(Incident.state == "resolved", Incident.resolved_by == "heartbeat")).label(
                "late"
            ),
        )
        .where(
            Incident.source == "heartbeat",
            Incident.details["state"].as_string() == SILENCE,
            Incident.opened_at >= edges[0],
            Incident.opened_at < edges[-1],
        )
        .group_by(opened, Incident.client_id, beat)
    )
    if client_ids is not None:
        silences = silences.where(Incident.client_id.in_(client_ids))
    for row in conn.execute(silences):
        key = (int(row.bucket), row.client_id, str(row.beat))
        out.setdefault(key, PingCounts()).add(
            PingCounts(missed=int(row.missed), late=int(row.late))
        )
    return out


def last_pings(
    conn: Connection, until: datetime, client_ids: list[str] | None
) -> dict[tuple[str, str], LastPing]:
    """Per (client, heartbeat): its newest ping before `until` (a `log` ping tells no outcome)."""
    newest = (
        select(
            HeartbeatPing.client_id,
            HeartbeatPing.heartbeat,
            func.max(HeartbeatPing.at).label("at"),
        )
        .where(HeartbeatPing.at < until, HeartbeatPing.kind.in_(LAST_KINDS))
        .group_by(HeartbeatPing.client_id, HeartbeatPing.heartbeat)
    )
    if client_ids is not None:
        newest = newest.where(HeartbeatPing.client_id.in_(client_ids))
    latest = newest.subquery()
    rows = conn.execute(
        select(
            HeartbeatPing.client_id, HeartbeatPing.heartbeat, HeartbeatPing.at, HeartbeatPing.kind
        )
        .join(
            latest,
            and_(
                HeartbeatPing.client_id == latest.c.client_id,
                HeartbeatPing.heartbeat == latest.c.heartbeat,
                HeartbeatPing.at == latest.c.at,
            ),
        )
        .where(HeartbeatPing.kind.in_(LAST_KINDS))
        .order_by(HeartbeatPing.id)
    )
    return {(r.client_id, r.heartbeat): LastPing(utc(r.at), r.kind) for r in rows}


def as_dict(counts: PingCounts, last: LastPing | None) -> dict[str, Any]:
    return {
        **counts.as_dict(),
        "last_ping": last.at.isoformat() if last else None,
        "last_ping_kind": last.kind if last else None,
    }
