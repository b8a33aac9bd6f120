"""The heartbeat watch: a ping that never came is a missed run (a step of the minutely sweep).

For each heartbeat the reference is the newest of: its last successful ping, the moment the
watch began expecting it (a `watch` row written on the first sweep that saw it), and the
resolution of its last incident (so an incident a person closed is not reopened for the same
silence). Every time the job was due after the reference (each cron fire time in its zone, or
every `period`) and is older than `grace` is a missed ping; one outside maintenance windows and
holidays opens the heartbeat's incident. Idempotent: an open incident is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from opsbinder import shadow
from opsbinder.binder_store import client_binder
from opsbinder.calendar import suppression
from opsbinder.clock import Clock, utc
from opsbinder.config.models import Heartbeat
from opsbinder.incidents.heartbeats import Found, beats_of, dedup_key, open_for, open_incident
from opsbinder.incidents.missed_runs import fire_times
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, HeartbeatPing, Incident

MAX_SLOTS = 500  # a one-minute period unwatched for a year is still one check


@dataclass
class HeartbeatReport:
    missed: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def due_times(beat: Heartbeat, since: datetime, until: datetime) -> list[datetime]:
    """When the job was due in (since, until], as UTC instants."""
    if until <= since:
        return []
    if beat.cron is not None and beat.timezone is not None:
        return fire_times(beat.cron, beat.timezone, since, until)[-MAX_SLOTS:]
    assert beat.period is not None
    count = int((until - since) / beat.period)
    first = max(1, count - MAX_SLOTS + 1)
    return [since + beat.period * k for k in range(first, count + 1)]


def reference(session: Session, client_id: str, beat_id: str) -> datetime | None:
    last = session.execute(
        select(func.max(HeartbeatPing.at)).where(
            HeartbeatPing.client_id == client_id,
            HeartbeatPing.heartbeat == beat_id,
            HeartbeatPing.kind.in_(("success", "watch")),
        )
    ).scalar_one_or_none()
    closed = session.execute(
        select(func.max(Incident.resolved_at)).where(
            Incident.dedup_key == dedup_key(client_id, beat_id)
        )
    ).scalar_one_or_none()
    known = [utc(t) for t in (last, closed) if t is not None]
    return max(known) if known else None


def check(session: Session, clock: Clock, found: Found, report: HeartbeatReport) -> None:
    beat, now = found.beat, utc(clock.now())
    name = f"{found.client_id}/{beat.id}"
    since = reference(session, found.client_id, beat.id)
    live = shadow.went_live(session, found.client_id)
    if since is not None and live is not None:
        since = max(since, live)
    if since is None:
        session.add(
            HeartbeatPing(
                client_id=found.client_id, heartbeat=beat.id, at=now, kind="watch", method=""
            )
        )
        report.started.append(name)
        return
    if open_incident(session, found.client_id, beat.id) is not None:
        return
    binder = client_binder(session, found.client_id, with_procedures=False)
    missed = [
        t for t in due_times(beat, since, now - beat.grace) if not suppression(binder, beat.id, t)
    ]
    if not missed:
        if due_times(beat, since, now - beat.grace):
            report.suppressed.append(name)
        return
    due = missed[-1]
    reason = (
        f"no ping since {since:%Y-%m-%d %H:%M} UTC; due at {due:%Y-%m-%d %H:%M} UTC, "
        f"grace {beat.grace}"
    )
    if open_for(session, clock, found, due, "did not ping", reason) is not None:
        report.missed.append(f"{name}@{due.isoformat()}")


def watch(engine: Engine, clock: Clock, *, client_id: str | None = None) -> HeartbeatReport:
    """One pass; each client in its own transaction, a paused client left alone, and a
    successor's shadow too: its heartbeats still ping the outgoing provider, and a shadow pages
    no one. Once live, a gap is counted from going live, not from the last ping before the shadow."""
    report = HeartbeatReport()
    with session_scope(engine) as session:
        stmt = select(Client.id).where(Client.paused.is_(False)).order_by(Client.id)
        if client_id:
            stmt = stmt.where(Client.id == client_id)
        ids = list(session.execute(stmt).scalars())
    for cid in ids:
        try:
            with session_scope(engine) as session:
                client = session.get(Client, cid)
                if client is None or shadow.current(session, cid) is not None:
                    continue
                for beat in beats_of(client):
                    check(session, clock, Found(cid, beat), report)
        except Exception as exc:
            report.errors.append(f"client {cid}: {type(exc).__name__}: {exc}"[:300])
    return report
