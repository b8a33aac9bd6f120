"""The heartbeat watch: a ping that never came is a missed run (a step of the minutely sweep).

For each heartbeat the reference is the newest of: its last successful ping, the moment the
watch began expecting it (a `watch` row written on the first sweep that saw it), and the
resolution of its last incident (so an incident a person closed is not reopened for the same
silence). Every time the job was due after the reference (each cron fire time in its zone, or
every `period`) and is older than `grace` is a missed ping; one outside maintenance windows and
holidays opens the heartbeat's incident. Idempotent: an open incident is left alone.

A pass reads a page of clients at once (their pings, incidents and shadow periods in a few
statements) and decides in Python; only a client with something to record is read again and
written in its own transaction, through the same `check` as a single heartbeat.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, String, case, column, func, select, values
from sqlalchemy.orm import Session

from opsbinder import shadow
from opsbinder.binder_store import client_binder
from opsbinder.calendar import suppression
from opsbinder.clock import Clock, utc
from opsbinder.config.models import ClientBinder, Heartbeat
from opsbinder.incidents.heartbeats import Found, beats_of, dedup_key, open_for, open_incident
from opsbinder.incidents.slots import fire_times
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
    return since_of(last, closed, shadow.went_live(session, client_id))


def since_of(
    last: datetime | None, closed: datetime | None, live: datetime | None
) -> datetime | None:
    """The newest of the last ping and the last resolution, not before going live; None when
    the heartbeat has neither (the watch has not begun expecting it)."""
    known = [utc(t) for t in (last, closed) if t is not None]
    if not known:
        return None
    return max([*known, utc(live)]) if live is not None else max(known)


def check(session: Session, clock: Clock, found: Found, report: HeartbeatReport) -> None:
    beat, now = found.beat, utc(clock.now())
    name = f"{found.client_id}/{beat.id}"
    since = reference(session, found.client_id, beat.id)
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


PAGE = 500  # clients read per query: bounds both the statement count and a page's memory
PAIRS = 5000  # heartbeats per statement (two bound values each, within SQLite's limit)


def _last_pings(session: Session, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """The newest success or watch ping of each (client, heartbeat): one index lookup per pair
    (the pairs as a VALUES list), not a scan of every ping a busy job ever sent."""
    found: dict[tuple[str, str], datetime] = {}
    for at in range(0, len(pairs), PAIRS):
        beats = (
            values(column("client_id", String), column("heartbeat", String), name="beats")
            .data(pairs[at : at + PAIRS])
            .cte()
        )
        newest = (
            select(func.max(HeartbeatPing.at))
            .where(
                HeartbeatPing.client_id == beats.c.client_id,
                HeartbeatPing.heartbeat == beats.c.heartbeat,
                HeartbeatPing.kind.in_(("success", "watch")),
            )
            .scalar_subquery()
        )
        rows = session.execute(select(beats.c.client_id, beats.c.heartbeat, newest)).tuples()
        found |= {(c, b): utc(t) for c, b, t in rows if t is not None}
    return found


def _incidents(
    session: Session, client_ids: Collection[str]
) -> tuple[dict[str, datetime], set[str]]:
    """Per heartbeat dedup key of the listed clients: its last resolution, and whether one is
    open, in one statement."""
    is_open = func.max(case((Incident.state != "resolved", 1), else_=0))
    rows = session.execute(
        select(Incident.dedup_key, func.max(Incident.resolved_at), is_open)
        .where(Incident.client_id.in_(client_ids), Incident.dedup_key.like("heartbeat:%"))
        .group_by(Incident.dedup_key)
    ).tuples()
    closed, opened = {}, set()
    for key, resolved, still_open in rows:
        if resolved is not None:
            closed[key] = utc(resolved)
        if still_open:
            opened.add(key)
    return closed, opened


def _owing(
    session: Session, now: datetime, page: list[str], report: HeartbeatReport
) -> dict[str, set[str]]:
    """The page's clients with a heartbeat to start watching or a missed ping (their ids), read
    without locks in four statements; the rest need nothing this minute."""
    clients = session.execute(select(Client).where(Client.id.in_(page))).scalars().all()
    periods = shadow.periods(session, page)
    closed, opened = _incidents(session, page)
    beats: dict[str, list[Heartbeat]] = {}
    for client in clients:
        if shadow.holding(periods.get(client.id)) is None:
            try:
                beats[client.id] = beats_of(client)
            except Exception as exc:
                report.errors.append(f"client {client.id}: {type(exc).__name__}: {exc}"[:300])
    last = _last_pings(session, [(cid, b.id) for cid, found in beats.items() for b in found])
    owing: dict[str, set[str]] = {}
    binders: dict[str, ClientBinder] = {}
    for cid, found in sorted(beats.items()):
        try:
            live = shadow.ended(periods.get(cid))
            for beat in found:
                key = dedup_key(cid, beat.id)
                since = since_of(last.get((cid, beat.id)), closed.get(key), live)
                if since is None:
                    owing.setdefault(cid, set()).add(beat.id)
                elif key in opened:
                    continue
                elif due := due_times(beat, since, now - beat.grace):
                    if cid not in binders:  # validated once per client, and only when needed
                        binders[cid] = client_binder(session, cid, with_procedures=False)
                    binder = binders[cid]
                    if all(suppression(binder, beat.id, t) for t in due):
                        report.suppressed.append(f"{cid}/{beat.id}")
                    else:
                        owing.setdefault(cid, set()).add(beat.id)
        except Exception as exc:
            report.errors.append(f"client {cid}: {type(exc).__name__}: {exc}"[:300])
            owing.pop(cid, None)
    return owing


def watch(engine: Engine, clock: Clock, *, client_id: str | None = None) -> HeartbeatReport:
    """One pass: a page of clients at a time is read at once (a steady pass issues a few
    statements per page, not per heartbeat), and each client with a heartbeat to start watching
    or a missed ping is checked again in its own transaction. A paused client is left alone,
    and a successor's shadow too: its heartbeats still ping the outgoing provider, and a shadow
    pages no one. Once live, a gap is counted from going live, not from the last ping before
    the shadow."""
    report = HeartbeatReport()
    with session_scope(engine) as session:
        stmt = select(Client.id).where(Client.paused.is_(False)).order_by(Client.id)
        if client_id:
            stmt = stmt.where(Client.id == client_id)
        ids = list(session.execute(stmt).scalars())
    for at in range(0, len(ids), PAGE):
        try:
            with session_scope(engine) as session:
                owing = _owing(session, utc(clock.now()), ids[at : at + PAGE], report)
        except Exception as exc:
            report.errors.append(f"clients {ids[at]}..: {type(exc).__name__}: {exc}"[:300])
            continue
        for cid, beat_ids in owing.items():
            try:
                with session_scope(engine) as session:
                    client = session.get(Client, cid)
                    if client is None or shadow.current(session, cid) is not None:
                        continue
                    for beat in beats_of(client):
                        if beat.id in beat_ids:
                            check(session, clock, Found(cid, beat), report)
            except Exception as exc:
                report.errors.append(f"client {cid}: {type(exc).__name__}: {exc}"[:300])
    return report
