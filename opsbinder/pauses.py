"""Pausing a procedure or a whole client: the store's flag, audited; deployments follow it.

The store is the truth (`Procedure.paused`, `Client.paused`): `opsbinder serve` and `opsbinder
deploy` build paused deployments from it, and `opsbinder pause` also pauses them on the server.
Other callers (web console, lockdown) that want the server to follow at once: after the commit,
`opsbinder.orchestrator.deployments.follow_store_pauses(engine, client_id, procedure_key)` when
PREFECT_API_URL is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
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
