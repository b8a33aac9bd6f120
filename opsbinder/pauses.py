"""Pausing a procedure or a whole client: the store's flag, audited; deployments follow it.

The store is the truth (`Procedure.paused`, `Client.paused`), and it takes effect at once: a
scheduled run of a paused procedure records itself as skipped instead of working
(`paused_reason`). `opsbinder serve` and `opsbinder deploy` build paused deployments from it, and
the CLI's pause, resume and lockdown also pause the deployments on the Prefect server in use
(`opsbinder.orchestrator.deployments.follow_pauses`), so those runs are not even scheduled.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.store import stored_pages
from opsbinder.store.models import Client, Procedure


@dataclass(frozen=True)
class PauseTarget:
    client_id: str
    procedure_key: str | None  # None: the whole client

    @property
    def label(self) -> str:
        return f"{self.client_id}/{self.procedure_key}" if self.procedure_key else self.client_id


def find_procedure(session: Session, key: str, client_id: str | None) -> Procedure:
    """A procedure by key; the client may be left out when the key is unique across clients."""
    query = select(Procedure).where(Procedure.key == key, Procedure.active.is_(True))
    if client_id:
        query = query.where(Procedure.client_id == client_id)
    rows = list(session.execute(query).scalars())
    if not rows:
        where = f" of client {client_id!r}" if client_id else ""
        raise NotFound(f"no active procedure {key!r}{where} in the store (opsbinder load first)")
    if len(rows) > 1:
        clients = ", ".join(sorted(r.client_id for r in rows))
        raise NotFound(f"procedure {key!r} exists for several clients ({clients}); add --client")
    return rows[0]


def paused_reason(session: Session, client_id: str, procedure_key: str) -> str | None:
    """Why a scheduled run of the procedure must not do its work now, if it or its client is
    paused. Checked by the run itself, so a pause stops the very next run wherever it runs
    (`opsbinder serve`, a worker), whatever door paused it, with no re-deploy or restart."""
    client = session.get(Client, client_id)
    if client is not None and client.paused:
        return f"paused: client {client_id} is paused (opsbinder resume --client {client_id})"
    paused = session.execute(
        select(Procedure.paused).where(
            Procedure.client_id == client_id, Procedure.key == procedure_key
        )
    ).scalar_one_or_none()
    if paused:
        return f"paused: scheduled runs wait for `opsbinder resume {procedure_key}`"
    return None


def set_paused(
    session: Session, target: PauseTarget, paused: bool, clock: Clock, actor: str
) -> bool:
    """Set the flag and audit it; returns False when it already was so (nothing recorded)."""
    if target.procedure_key is None:
        client = session.get(Client, target.client_id)
        if client is None:
            raise NotFound(f"no client {target.client_id!r} in the store (opsbinder load first)")
        row: Client | Procedure = client
        object_type, object_id = "client", client.id
    else:
        row = find_procedure(session, target.procedure_key, target.client_id)
        object_type, object_id = "procedure", f"{row.client_id}/{row.key}"
    if row.paused == paused:
        return False
    row.paused = paused
    row.updated_at = clock.now()
    stored_pages.mark(session, clock, target.client_id)  # the page says which are paused
    audit.record(
        session,
        clock,
        actor=actor,
        action=f"{object_type}.{'paused' if paused else 'resumed'}",
        object_type=object_type,
        object_id=object_id,
        client_id=target.client_id,
    )
    return True


def paused_by(session: Session, client_id: str, key: str) -> str | None:
    """Why the store holds the procedure paused (by itself or with its client), or None."""
    row = session.execute(
        select(Procedure.paused, Client.paused)
        .join(Client, Client.id == Procedure.client_id)
        .where(Procedure.client_id == client_id, Procedure.key == key, Procedure.active.is_(True))
    ).first()
    if row is None:
        return None
    if row[0]:
        return "with opsbinder pause"
    return "the whole client is paused" if row[1] else None
