"""Integration keys (the keys monitoring tools send events with), the same through the console
and the CLI: issue one for a client (shown once, at issue), list them, revoke one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import accounts
from opsbinder.accounts import IssuedToken
from opsbinder.authorization import Action, Principal, Target, authorize
from opsbinder.clock import Clock
from opsbinder.errors import NotFound
from opsbinder.store.models import AccessToken, Client


def issue(
    session: Session, clock: Clock, principal: Principal, client_id: str, name: str
) -> IssuedToken:
    if session.get(Client, client_id) is None or not principal.sees(client_id):
        raise NotFound(f"client: no client {client_id!r} in the store (opsbinder load first)")
    authorize(session, clock, principal, Action.INTEGRATION_KEY, Target.client(client_id))
    return accounts.issue_integration_key(
        session, clock, client_id=client_id, name=name, actor=principal.actor
    )


def keys(session: Session, principal: Principal, client_id: str | None = None) -> list[AccessToken]:
    """The keys the principal may see (their prefixes and dates; the keys were never stored)."""
    query = select(AccessToken).where(AccessToken.kind == "integration").order_by(AccessToken.id)
    if client_id is not None:
        query = query.where(AccessToken.client_id == client_id)
    rows = session.execute(query).scalars()
    return [t for t in rows if t.client_id is not None and principal.sees(t.client_id)]


def revoke(session: Session, clock: Clock, principal: Principal, prefix: str) -> AccessToken:
    """Revoke at once: events sent with the key are refused from now on."""
    found = next((t for t in keys(session, principal) if t.prefix == prefix), None)
    if found is None or found.client_id is None:
        raise NotFound(f"integration key: no key starting {prefix!r}")
    authorize(session, clock, principal, Action.INTEGRATION_KEY, Target.client(found.client_id))
    return accounts.revoke_token(session, clock, prefix=prefix, actor=principal.actor)
