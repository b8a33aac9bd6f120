"""Small binders for procedure tests: one client, the systems and procedures a test names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from opsbinder.clock import Clock
from opsbinder.config.models import Binder, ClientBinder
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder


def procedure(pid: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "name": f"Test {pid}",
        "kind": kind,
        "schedule": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"},
        "owner": "ann",
        "escalation_policy": "std",
        **extra,
    }


def client_binder(
    systems: list[dict[str, Any]], procedures: list[dict[str, Any]], **sections: Any
) -> ClientBinder:
    return ClientBinder.model_validate(
        {
            "client": {"id": "acme", "name": "Acme", "timezone": "Europe/Berlin"},
            "contacts": [
                {"id": "ann", "name": "Ann"},
                {"id": "bob", "name": "Bob"},
            ],
            "escalation_policies": [
                {
                    "id": "std",
                    "levels": [
                        {"name": "L1", "targets": [{"contact": "ann"}], "ack_timeout": "15m"}
                    ],
                }
            ],
            "systems": systems,
            "procedures": procedures,
            **sections,
        }
    )


def load(engine: Engine, clock: Clock, cb: ClientBinder) -> ClientBinder:
    with session_scope(engine) as session:
        sync_binder(session, Binder(clients=[cb]), clock, actor="test")
    return cb
