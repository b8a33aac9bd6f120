"""The binder as the store holds it: what flows, sweepers and the web use at run time.

Flows get only a client id and a procedure id; the definition they act on is the one last
loaded into the store (`opsbinder load`), so a run never depends on a YAML folder being present.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.config.models import (
    ClientBinder,
    ClientInfo,
    Contract,
    Duration,
    OnCallSchedule,
    Schedule,
)
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.errors import NotFound
from opsbinder.store.models import Client, Procedure

_procedure = TypeAdapter(ProcedureConfig)


def procedure_config(row: Procedure) -> ProcedureConfig:
    return _procedure.validate_python(row.definition)


class ProcedureTiming(BaseModel):
    """The part of a stored definition that says when its runs are due: its fields, types and
    defaults are the procedure model's own (tests/test_binder_store.py compares them). The
    minutely missed-run watch reads this of every procedure to find the few that owe a run;
    validating the whole definition (runbook, params, the secret guard on every nested model)
    each minute was most of that pass. A procedure found owing is checked again with its whole
    definition (`procedure_config`) before anything is recorded."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schedule: Schedule | None = None
    grace: Duration = timedelta(minutes=30)
    timeout: Duration = timedelta(hours=1)


TIMING = tuple(ProcedureTiming.model_fields)  # the definition's keys it reads


def procedure_timing(definition: dict[str, Any]) -> ProcedureTiming:
    return ProcedureTiming.model_validate(definition)


def client_binder(
    session: Session, client_id: str, *, with_procedures: bool = True
) -> ClientBinder:
    """The client's binder; `with_procedures=False` leaves the procedures out, for callers that
    need only the rest (a policy, the calendar): checking every procedure's cron again is most
    of the cost, and monitoring events pay it per event."""
    client = session.get(Client, client_id)
    if client is None:
        raise no_client(client_id)
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


class EscalationTerms(BaseModel):
    """What deciding a client's incidents reads of its stored binder: its zone, on-call
    schedules and contract, with the binder model's own types and defaults
    (tests/test_binder_store.py compares them). A minutely pass over the open incidents of
    many clients reads this of each client instead of validating its whole binder."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    client: ClientInfo
    oncall_schedules: list[OnCallSchedule] = Field(default_factory=list)
    contract: Contract | None = None


ESCALATION_TERMS = tuple(EscalationTerms.model_fields)  # the definition's keys it reads


def escalation_terms(session: Session, client_ids: Collection[str]) -> dict[str, EscalationTerms]:
    """Each listed client's `EscalationTerms` in one query, the database taking the keys out of
    each stored binder; a client not in the store is left out."""
    parts = [Client.definition[key] for key in ESCALATION_TERMS]
    rows = session.execute(select(Client.id, *parts).where(Client.id.in_(client_ids)))
    return {
        row[0]: EscalationTerms.model_validate(
            # a key the binder leaves out (none does: stored whole) takes its default
            {k: v for k, v in zip(ESCALATION_TERMS, row[1:], strict=True) if v is not None}
        )
        for row in rows
    }


def no_client(client_id: str) -> NotFound:
    return NotFound(f"no client {client_id!r} in the store; load the binder first (opsbinder load)")


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
