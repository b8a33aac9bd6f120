"""The binder as the store holds it: what flows, sweepers and the web use at run time.

Flows get only a client id and a procedure id; the definition they act on is the one last
loaded into the store (`opsbinder load`), so a run never depends on a YAML folder being present.
"""

from __future__ import annotations

from collections.abc import Collection

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.config.models import ClientBinder, Contract
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.errors import NotFound
from opsbinder.store.models import Client, Procedure

_procedure = TypeAdapter(ProcedureConfig)


def procedure_config(row: Procedure) -> ProcedureConfig:
    return _procedure.validate_python(row.definition)


def client_binder(
    session: Session, client_id: str, *, with_procedures: bool = True
) -> ClientBinder:
    """The client's binder; `with_procedures=False` leaves the procedures out, for callers that
    need only the rest (a policy, the calendar): checking every procedure's cron again is most
    of the cost, and monitoring events pay it per event."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(
            f"no client {client_id!r} in the store; load the binder first (opsbinder load)"
        )
    if not with_procedures:
        return _without_procedures(client)
    rows = session.execute(
        select(Procedure)
        .where(Procedure.client_id == client_id, Procedure.active.is_(True))
        .order_by(Procedure.key)
    ).scalars()
    return ClientBinder.model_validate(
        {**client.definition, "procedures": [r.definition for r in rows]}
    )


def policy_binders(session: Session, client_ids: Collection[str]) -> dict[str, ClientBinder]:
    """Each listed client's binder without its procedures (as `with_procedures=False`), in one
    query, for a pass over many clients' incidents."""
    rows = session.execute(select(Client).where(Client.id.in_(client_ids))).scalars()
    return {client.id: _without_procedures(client) for client in rows}


def _without_procedures(client: Client) -> ClientBinder:
    return ClientBinder.model_validate({**client.definition, "procedures": []})


def client_contract(client: Client) -> Contract | None:
    """The client's contract alone, without checking every procedure of its binder again."""
    raw = (client.definition or {}).get("contract")
    return Contract.model_validate(raw) if raw else None


def procedure_row(session: Session, client_id: str, procedure_key: str) -> Procedure:
    row = session.execute(
        select(Procedure).where(Procedure.client_id == client_id, Procedure.key == procedure_key)
    ).scalar_one_or_none()
    if row is None or not row.active:
        raise NotFound(f"no active procedure {client_id}/{procedure_key} in the store")
    return row
