"""Work items: due checklists and reminders that a person signs off.

A work item is created once per dedup key (the unique index is the arbiter, so two runs racing
each other still make one), completed by a named person with a note (audited), and turned into
an incident when its due time passes unsigned.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock, utc
from opsbinder.errors import NotFound
from opsbinder.incidents import lifecycle
from opsbinder.store.models import Procedure, WorkItem


def _by_key(session: Session, dedup_key: str) -> WorkItem | None:
    return session.execute(
        select(WorkItem).where(WorkItem.dedup_key == dedup_key)
    ).scalar_one_or_none()


def create_once(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    procedure_key: str | None,
    kind: str,
    dedup_key: str,
    title: str,
    due_at: datetime,
    assignee: str | None,
    steps: list[Any] | None = None,
    actor: str = "scheduler",
) -> tuple[WorkItem, bool]:
    """The work item with this dedup key, and whether this call created it."""
    existing = _by_key(session, dedup_key)
    if existing is not None:
        return existing, False
    procedure_id = None
    if procedure_key:
        procedure_id = session.execute(
            select(Procedure.id).where(
                Procedure.client_id == client_id, Procedure.key == procedure_key
            )
        ).scalar_one_or_none()
    item = WorkItem(
        client_id=client_id,
        procedure_id=procedure_id,
        kind=kind,
        dedup_key=dedup_key,
        title=title[:300],
        steps=list(steps or []),
        assignee=assignee,
        due_at=utc(due_at),
        created_at=clock.now(),
        note="",
    )
    try:
        with session.begin_nested():
            session.add(item)
            session.flush()
    except IntegrityError:
        raced = _by_key(session, dedup_key)
        if raced is None:
            raise
        return raced, False
    audit.record(
        session,
        clock,
        actor=actor,
        action=f"{kind}.created",
        object_type="work_item",
        object_id=str(item.id),
        client_id=client_id,
        details={"dedup_key": dedup_key, "assignee": assignee, "due_at": item.due_at.isoformat()},
    )
    return item, True


def complete_newest(
    session: Session,
    clock: Clock,
    *,
    client_id: str,
    procedure_key: str,
    actor: str,
    note: str,
    kind: str = "checklist",
) -> WorkItem:
    """Sign off the newest open work item of a procedure."""
    item = session.execute(
        select(WorkItem)
        .join(Procedure, Procedure.id == WorkItem.procedure_id)
        .where(
            Procedure.client_id == client_id,
            Procedure.key == procedure_key,
            WorkItem.kind == kind,
            WorkItem.completed_at.is_(None),
        )
        .order_by(WorkItem.created_at.desc(), WorkItem.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if item is None:
        raise NotFound(f"{client_id}/{procedure_key} has no open {kind} to sign off")
    return complete(session, clock, item, actor=actor, note=note)


def complete(session: Session, clock: Clock, item: WorkItem, *, actor: str, note: str) -> WorkItem:
    item.completed_at, item.completed_by, item.note = clock.now(), actor, note
    session.flush()
    audit.record(
        session,
        clock,
        actor=actor,
        action=f"{item.kind}.completed",
        object_type="work_item",
        object_id=str(item.id),
        client_id=item.client_id,
        details={"note": note, "late": utc(item.completed_at) > utc(item.due_at)},
    )
    return item


def open_items(
    session: Session, *, client_id: str | None = None, procedure_key: str | None = None
) -> list[WorkItem]:
    query = select(WorkItem).where(WorkItem.completed_at.is_(None)).order_by(WorkItem.due_at)
    if client_id:
        query = query.where(WorkItem.client_id == client_id)
    if procedure_key:
        query = query.join(Procedure, Procedure.id == WorkItem.procedure_id).where(
            Procedure.key == procedure_key
        )
    return list(session.execute(query).scalars())


def escalate_overdue(
    session: Session,
    clock: Clock,
    *,
    client_id: str | None = None,
    procedure_key: str | None = None,
    severity: str | None = None,
) -> list[WorkItem]:
    """Open an incident for each open work item past its due time that has none yet; returns
    the items that got one. A sweeper may call this every minute: each item pages once."""
    now = utc(clock.now())
    overdue = [
        i
        for i in open_items(session, client_id=client_id, procedure_key=procedure_key)
        if i.incident_id is None and utc(i.due_at) < now
    ]
    for item in overdue:
        proc = session.get(Procedure, item.procedure_id) if item.procedure_id else None
        incident = lifecycle.trigger(
            session,
            clock,
            client_id=item.client_id,
            procedure_key=proc.key if proc else None,
            dedup_key=f"overdue:{item.dedup_key}",
            title=f"Overdue: {item.title}",
            severity=severity or (proc.severity if proc else "sev3"),
            details={
                "work_item": item.id,
                "kind": item.kind,
                "assignee": item.assignee,
                "due_at": utc(item.due_at).isoformat(),
            },
        )
        item.incident_id = incident.id
    session.flush()
    return overdue
