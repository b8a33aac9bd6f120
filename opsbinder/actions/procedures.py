"""Acting on a procedure or a whole client: run now, pause, resume, sign off a checklist."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from opsbinder import audit, pauses, run_grants, workitems
from opsbinder.authorization import Action, Principal, Target, authorize
from opsbinder.clock import Clock
from opsbinder.errors import NotFound, OpsbinderError
from opsbinder.handover import verification
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure, WorkItem

# launch(client_id, procedure_key, actor): starts the run somewhere else (a process, a worker)
Launcher = Callable[[str, str, str], None]


def visible(session: Session, principal: Principal, procedure_id: int) -> Procedure:
    """The active procedure, or NotFound when there is none or its client is not the principal's."""
    proc = session.get(Procedure, procedure_id)
    if proc is None or not proc.active or not principal.sees(proc.client_id):
        raise NotFound(f"no procedure #{procedure_id}")
    return proc


def request_run(
    session: Session, clock: Clock, principal: Principal, proc: Procedure, *, how: str
) -> None:
    """May the principal run it now? If so, the request is on record before anything starts,
    and on a locked-down client (only an admin gets this far) the flow finds a grant to claim."""
    authorize(session, clock, principal, Action.RUN, Target.procedure(proc))
    client = session.get(Client, proc.client_id)
    if client is not None and client.locked_down:
        run_grants.grant(session, clock, proc, actor=principal.actor)
    audit.record(
        session,
        clock,
        actor=principal.actor,
        action="procedure.run_requested",
        object_type="procedure",
        object_id=f"{proc.client_id}/{proc.key}",
        client_id=proc.client_id,
        details={
            "mode": how,
            "door": principal.door,
            "locked_down": bool(client and client.locked_down),
        },
    )


def request_runs(
    session: Session,
    clock: Clock,
    principal: Principal,
    client_id: str,
    procedure_key: str | None,
    cadence: str | None,
    *,
    how: str,
) -> None:
    """The CLI's run: one procedure, or a client's whole cadence bundle."""
    if procedure_key is not None:
        proc = pauses.find_procedure(session, procedure_key, client_id)
        request_run(session, clock, principal, proc, how=how)
        return
    authorize(session, clock, principal, Action.RUN, Target.client(client_id))
    audit.record(
        session,
        clock,
        actor=principal.actor,
        action="bundle.run_requested",
        object_type="client",
        object_id=client_id,
        client_id=client_id,
        details={"cadence": cadence, "mode": how, "door": principal.door},
    )


def run_now(
    session: Session, clock: Clock, principal: Principal, procedure_id: int, launch: Launcher
) -> str:
    """Start the run with `launch` (elsewhere: a process, a worker) once it is on record."""
    proc = visible(session, principal, procedure_id)
    request_run(session, clock, principal, proc, how="flow")
    launch(proc.client_id, proc.key, principal.actor)
    return f"{proc.client_id}/{proc.key}: run started; it appears under last runs when it has finished."


def set_paused(
    session: Session,
    clock: Clock,
    principal: Principal,
    target: pauses.PauseTarget,
    paused: bool,
) -> bool:
    """Pause or resume a procedure, or every procedure of a client; False when already so."""
    if target.procedure_key is None:
        where = Target.client(target.client_id)
    else:
        where = Target.procedure(
            pauses.find_procedure(session, target.procedure_key, target.client_id)
        )
    action = Action.PAUSE if paused else Action.RESUME
    authorize(session, clock, principal, action, where)
    return pauses.set_paused(session, target, paused, clock, principal.actor)


def pause_procedure(
    session: Session, clock: Clock, principal: Principal, procedure_id: int, paused: bool
) -> str:
    proc = visible(session, principal, procedure_id)
    label = f"{proc.client_id}/{proc.key}"
    changed = set_paused(
        session, clock, principal, pauses.PauseTarget(proc.client_id, proc.key), paused
    )
    state = "paused" if paused else "resumed"
    return f"{label} {state}." if changed else f"{label} was already {state}."


def sign_off(
    session: Session,
    clock: Clock,
    principal: Principal,
    *,
    client_id: str,
    procedure_key: str,
    note: str,
    item_id: int | None = None,
) -> WorkItem:
    """Sign off the newest open checklist of a procedure, or the work item `item_id` of it."""
    proc = pauses.find_procedure(session, procedure_key, client_id)
    authorize(session, clock, principal, Action.SIGN_OFF, Target.procedure(proc))
    if item_id is None:
        return workitems.complete_newest(
            session,
            clock,
            client_id=client_id,
            procedure_key=procedure_key,
            actor=principal.actor,
            note=note,
        )
    item = session.get(WorkItem, item_id)
    if item is None or item.procedure_id != proc.id:
        raise NotFound(f"no work item #{item_id} of {client_id}/{procedure_key}")
    if item.completed_at is not None:
        raise OpsbinderError(f"work item #{item_id} was already signed off by {item.completed_by}")
    return workitems.complete(session, clock, item, actor=principal.actor, note=note)


def verify_client(
    engine: Engine, clock: Clock, principal: Principal, client_id: str
) -> list[verification.Verdict]:
    """Dry-run every procedure of a client against its live systems (`binder verify`): it
    reaches into the client's systems and records runs, so it is a run for the rule."""
    with session_scope(engine) as session:
        authorize(session, clock, principal, Action.RUN, Target.client(client_id))
    return verification.verify_client(engine, client_id, clock, actor=principal.actor)
