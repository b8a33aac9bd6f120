"""Load the binder into the store: clients and procedures as they are now, changes audited."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.authorization import Action, Principal, Target, decide, record_refusal
from opsbinder.clock import Clock
from opsbinder.config.models import Binder, ClientBinder, ClientInfo
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.config.schedules import cadence_for
from opsbinder.store import stored_pages
from opsbinder.store.models import Client, Procedure


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    frozen: list[str] = field(
        default_factory=list
    )  # locked-down clients whose changes were refused


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def procedure_definition(proc: ProcedureConfig) -> dict[str, Any]:
    return proc.model_dump(mode="json", by_alias=True)


def sync_binder(
    session: Session, binder: Binder, clock: Clock, actor: str = "binder"
) -> SyncReport:
    report = SyncReport()
    for client in binder.clients:
        if _frozen(session, client, clock, actor):
            report.frozen.append(client.client.id)
            continue
        _sync_client(session, client, clock, actor, report)
    return report


def _frozen(session: Session, cb: ClientBinder, clock: Clock, actor: str) -> bool:
    """A locked-down client's binder stays as stored: a changed one is refused (audited), by the
    same rule as every other action; an admin lifts the lockdown first."""
    client = session.get(Client, cb.client.id)
    if client is None or not client.locked_down:
        return False
    stored = {
        p.key: p.config_hash
        for p in session.execute(
            select(Procedure).where(Procedure.client_id == client.id, Procedure.active.is_(True))
        ).scalars()
    }
    wanted = {p.id: _digest(procedure_definition(p)) for p in cb.procedures}
    definition = cb.model_dump(mode="json", by_alias=True, exclude={"procedures"})
    if client.config_hash == _digest(definition) and stored == wanted:
        return False  # nothing would change: nothing to refuse
    principal = Principal.operator(actor)
    reason = decide(principal, Action.LOAD_BINDER, locked_down=True)
    if reason is None:
        return False
    record_refusal(
        session, clock, actor, "binder", Action.LOAD_BINDER, Target.client(client.id), reason
    )
    return True


def _sync_client(
    session: Session, cb: ClientBinder, clock: Clock, actor: str, report: SyncReport
) -> None:
    now = clock.now()
    info = cb.client
    definition = cb.model_dump(mode="json", by_alias=True, exclude={"procedures"})
    # where items are written is bookkeeping, not configuration: moving one is no change
    digest = _digest({k: v for k, v in definition.items() if k != "locations"})
    client = session.get(Client, info.id)
    before = len(report.created) + len(report.updated) + len(report.removed)
    # name, zone, components, maintenance windows, contract: all on the client's status page
    shown_changed = client is None or client.config_hash != digest
    if client is None:
        client = Client(
            id=info.id,
            name=info.name,
            timezone=info.timezone,
            definition=definition,
            config_hash=digest,
            created_at=now,
            updated_at=now,
        )
        session.add(client)
        session.flush()
        audit.record(
            session,
            clock,
            actor=actor,
            action="client.created",
            object_type="client",
            object_id=info.id,
            client_id=info.id,
        )
    elif client.config_hash == digest:
        if client.definition != definition:
            client.definition = definition  # only the locations moved: kept, not audited
    else:
        client.name, client.timezone, client.definition = info.name, info.timezone, definition
        client.config_hash, client.updated_at = digest, now
        audit.record(
            session,
            clock,
            actor=actor,
            action="client.updated",
            object_type="client",
            object_id=info.id,
            client_id=info.id,
        )

    existing = {
        p.key: p
        for p in session.execute(select(Procedure).where(Procedure.client_id == info.id)).scalars()
    }
    for proc in cb.procedures:
        row = existing.pop(proc.id, None)
        _sync_procedure(session, info, proc, row, clock, actor, report)
    for gone in existing.values():
        if gone.active:
            gone.active, gone.updated_at = False, now
            report.removed.append(f"{info.id}/{gone.key}")
            audit.record(
                session,
                clock,
                actor=actor,
                action="procedure.removed",
                object_type="procedure",
                object_id=f"{info.id}/{gone.key}",
                client_id=info.id,
            )
    if shown_changed or len(report.created) + len(report.updated) + len(report.removed) > before:
        stored_pages.mark(session, clock, info.id)  # rendered as the load commits


def _sync_procedure(
    session: Session,
    info: ClientInfo,
    proc: ProcedureConfig,
    row: Procedure | None,
    clock: Clock,
    actor: str,
    report: SyncReport,
) -> None:
    now, client_id, zone = clock.now(), info.id, info.timezone
    definition = procedure_definition(proc)
    digest = _digest(definition)
    name = f"{client_id}/{proc.id}"
    fields = dict(
        name=proc.name,
        kind=proc.kind,
        cron=proc.schedule.cron if proc.schedule else "",  # on demand: no cron
        timezone=proc.zone(zone),
        cadence=cadence_for(proc),
        severity=proc.severity,
        owner=proc.owner,
        grace_seconds=int(proc.grace.total_seconds()),
        definition=definition,
        config_hash=digest,
    )
    if row is None:
        session.add(
            Procedure(
                client_id=client_id,
                key=proc.id,
                paused=proc.paused,
                active=True,
                created_at=now,
                updated_at=now,
                **fields,
            )
        )
        report.created.append(name)
        audit.record(
            session,
            clock,
            actor=actor,
            action="procedure.created",
            object_type="procedure",
            object_id=name,
            client_id=client_id,
            details={"hash": digest},
        )
        return
    if row.config_hash == digest and row.active:
        report.unchanged.append(name)
        return
    for key, value in fields.items():
        setattr(row, key, value)
    row.active, row.updated_at = True, now
    report.updated.append(name)
    audit.record(
        session,
        clock,
        actor=actor,
        action="procedure.updated",
        object_type="procedure",
        object_id=name,
        client_id=client_id,
        details={"hash": digest},
    )
