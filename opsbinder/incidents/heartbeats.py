"""Heartbeats: jobs opsbinder does not run say "I ran" (or "I failed") by pinging a URL.

A ping is kept like a run (`HeartbeatPing`, its body as the log). A failed ping opens the
heartbeat's incident at once and a successful one resolves it; a ping that never comes is the
watch's business (heartbeat_watch.py). Either way the incident goes through `lifecycle`, so it
escalates like any other. Its dedup key carries the client, so a ping address of one client can
only ever open or resolve that client's incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.binder_store import client_binder
from opsbinder.calendar import suppression
from opsbinder.clock import Clock, FrozenClock, utc
from opsbinder.config.models import Heartbeat
from opsbinder.incidents import lifecycle
from opsbinder.store.models import Client, HeartbeatPing, Incident

KINDS = ("start", "success", "fail", "log", "watch")  # watch: the watch began expecting pings
_beats = TypeAdapter(list[Heartbeat])


@dataclass(frozen=True)
class Found:
    client_id: str
    beat: Heartbeat


class Directory:
    """uuid -> heartbeat across clients, rebuilt only when a client's binder changed.

    A uuid that two clients both name belongs to neither: `find` answers None for it rather than
    guess whose incident a ping may touch.
    """

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}
        self._index: dict[UUID, list[Found]] = {}

    def find(self, session: Session, uuid: UUID) -> Found | None:
        hashes = dict(session.execute(select(Client.id, Client.config_hash)).tuples().all())
        if hashes != self._hashes:
            self._rebuild(session, hashes)
        found = self._index.get(uuid, [])
        return found[0] if len(found) == 1 else None

    def _rebuild(self, session: Session, hashes: dict[str, str]) -> None:
        index: dict[UUID, list[Found]] = {}
        for client in session.execute(select(Client)).scalars():
            for beat in beats_of(client):
                index.setdefault(beat.uuid, []).append(Found(client.id, beat))
        self._index, self._hashes = index, hashes


def beats_of(client: Client) -> list[Heartbeat]:
    return _beats.validate_python((client.definition or {}).get("heartbeats") or [])


def dedup_key(client_id: str, beat_id: str) -> str:
    return f"heartbeat:{client_id}:{beat_id}"


def open_incident(session: Session, client_id: str, beat_id: str) -> Incident | None:
    return lifecycle.open_by_dedup(session, dedup_key(client_id, beat_id))


def record_ping(
    session: Session,
    clock: Clock,
    found: Found,
    *,
    kind: str,
    exit_status: int | None = None,
    method: str = "GET",
    remote_addr: str = "",
    user_agent: str = "",
    body: str = "",
    truncated: bool = False,
) -> HeartbeatPing:
    """Keep the ping; a failure opens the incident, a success resolves it."""
    if kind not in KINDS:
        raise ValueError(f"ping kind {kind!r}")
    now = utc(clock.now())
    ping = HeartbeatPing(
        client_id=found.client_id,
        heartbeat=found.beat.id,
        at=now,
        kind=kind,
        exit_status=exit_status,
        method=method[:8],
        remote_addr=remote_addr[:64],
        user_agent=user_agent[:200],
        body=body,
        body_truncated=truncated,
    )
    session.add(ping)
    session.flush()
    if kind == "fail":
        why = f"exit status {exit_status}" if exit_status is not None else "it reported a failure"
        open_for(session, clock, found, now, "failed", f"{found.beat.name}: {why}", ping)
    elif kind == "success":
        lifecycle.auto_resolve(
            session,
            clock,
            dedup_key=dedup_key(found.client_id, found.beat.id),
            flow_run_id=None,
            actor="heartbeat",
        )
    return ping


def open_for(
    session: Session,
    clock: Clock,
    found: Found,
    due: datetime,
    what: str,
    reason: str,
    ping: HeartbeatPing | None = None,
) -> Incident | None:
    """The heartbeat's incident, unless a maintenance window or holiday covers `due`."""
    binder = client_binder(session, found.client_id, with_procedures=False)
    if suppression(binder, found.beat.id, due) is not None:
        return None
    beat = found.beat
    return lifecycle.trigger(
        session,
        FrozenClock(clock.now()),
        client_id=found.client_id,
        procedure_key=None,
        dedup_key=dedup_key(found.client_id, beat.id),
        title=f"{beat.name}: {what}",
        severity=beat.severity,
        details={
            "state": what,
            "error": reason,
            "heartbeat": beat.id,
            "ping_id": ping.id if ping is not None else None,
            "log_lines": (ping.body.splitlines()[-20:] if ping is not None else []),
        },
        actor="heartbeat",
        source="heartbeat",
        component=beat.component,
        policy_id=beat.escalation_policy,
    )


def pings(
    session: Session, client_id: str, heartbeat: str | None = None, limit: int = 100
) -> list[HeartbeatPing]:
    stmt = (
        select(HeartbeatPing)
        .where(HeartbeatPing.client_id == client_id)
        .order_by(HeartbeatPing.at.desc(), HeartbeatPing.id.desc())
        .limit(limit)
    )
    if heartbeat is not None:
        stmt = stmt.where(HeartbeatPing.heartbeat == heartbeat)
    return list(session.execute(stmt).scalars())
