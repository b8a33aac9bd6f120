"""The immediate lockdown: hand a client's keys back in minutes, and its reversal by an admin.

Lockdown, in one transaction: pause the client (the store flag `Client.paused`, which every
deployment of the client follows — `opsbinder deploy`/`serve` build them paused, and the CLI
also pauses them on a Prefect server), mark it `locked_down`, revoke every access token of the
outgoing provider scoped to this client (status-page tokens of the client's own stakeholders
are left alone), and create the client's lockdown checklist (its manual procedure with
`lockdown: true`) as a due work item. Each step is an audit entry. The export follows.

While `locked_down` is set, the authorization rule (`opsbinder.authorization`) lets nobody but
an admin act on the client through any door, and its flows run only on an admin's grant.
Lift (an admin, proven by password or an admin's token, never by a name) un-pauses the client
if the lockdown paused it and clears `locked_down`. Revoked tokens stay revoked: a token that
may have leaked is never brought back; the new provider issues new ones
(`opsbinder users token`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import accounts, audit, workitems
from opsbinder.authorization import Action, Principal, Target, authorize
from opsbinder.binder_store import client_binder
from opsbinder.clock import Clock, FrozenClock
from opsbinder.errors import NotFound, Refused
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.models import AccessToken, AuditEntry, Client


@dataclass
class LockdownResult:
    client_id: str
    paused_now: bool
    revoked: list[str] = field(default_factory=list)
    checklist_id: int | None = None
    checklist: str | None = None
    problems: list[str] = field(default_factory=list)


def _client(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r} in the store; load its binder first")
    return client


def lock_down(
    session: Session, client_id: str, clock: Clock, *, principal: Principal, provider: str = "msp"
) -> LockdownResult:
    client = _client(session, client_id)
    authorize(session, clock, principal, Action.LOCK_DOWN, Target.client(client_id))
    actor = principal.actor
    binder = client_binder(session, client_id)
    now = clock.now()
    clock = FrozenClock(now)  # one transaction, one instant: every record of it agrees
    audit.record(
        session,
        clock,
        actor=actor,
        action="lockdown.started",
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        details={"provider": provider, "already_locked_down": client.locked_down},
    )
    paused_now = set_paused(session, PauseTarget(client_id, None), True, clock, actor)
    result = LockdownResult(client_id, paused_now)
    tokens = session.execute(
        select(AccessToken).where(
            AccessToken.client_id == client_id,
            AccessToken.provider == provider,
            AccessToken.kind != "status_page",
            AccessToken.revoked_at.is_(None),
        )
    ).scalars()
    for token in list(tokens):
        accounts.revoke_token(session, clock, prefix=token.prefix, actor=actor)
        result.revoked.append(token.prefix)
    checklist = next(
        (p for p in binder.procedures if p.kind == "manual" and p.params.lockdown), None
    )
    if checklist is None:
        result.problems.append(
            "no lockdown checklist in the binder (a manual procedure with params.lockdown: true)"
        )
    else:
        item, _ = workitems.create_once(
            session,
            clock,
            client_id=client_id,
            procedure_key=checklist.id,
            kind="checklist",
            dedup_key=f"lockdown:{client_id}:{now.isoformat()}",
            title=checklist.name,
            due_at=now + checklist.params.deadline,
            assignee=checklist.owner,
            steps=list(checklist.runbook.steps),
            actor=actor,
        )
        result.checklist_id, result.checklist = item.id, checklist.id
    client.locked_down = True
    client.updated_at = clock.now()
    audit.record(
        session,
        clock,
        actor=actor,
        action="client.locked_down",
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        details={
            "provider": provider,
            "paused_by_lockdown": paused_now,
            "tokens_revoked": result.revoked,
            "checklist": result.checklist,
            "work_item": result.checklist_id,
            "problems": result.problems,
        },
    )
    return result


def lift(session: Session, client_id: str, clock: Clock, *, principal: Principal) -> bool:
    """Undo the pause of the lockdown; returns whether the client was un-paused."""
    client = _client(session, client_id)
    authorize(session, clock, principal, Action.LIFT_LOCKDOWN, Target.client(client_id))
    actor = principal.actor
    if not client.locked_down:
        raise Refused(f"client {client_id!r} is not locked down; nothing to lift")
    last = session.execute(
        select(AuditEntry)
        .where(AuditEntry.client_id == client_id, AuditEntry.action == "client.locked_down")
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    paused_by_lockdown = bool(last and last.details.get("paused_by_lockdown"))
    resumed = paused_by_lockdown and set_paused(
        session, PauseTarget(client_id, None), False, clock, actor
    )
    client.locked_down = False
    client.updated_at = clock.now()
    audit.record(
        session,
        clock,
        actor=actor,
        action="client.lockdown_lifted",
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        details={
            "resumed": resumed,
            "tokens": "revoked tokens stay revoked; issue new ones",
        },
    )
    return resumed
