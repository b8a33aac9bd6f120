"""Two clients in the store (the example `nordhafen` and a second, `lindqvist`), staff, tokens,
one open Severity-1 incident per client: the world the web, incident and misuse tests act on.

The fixture `two_clients` (tests/conftest.py) seeds it; tests/web/ calls it `world`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder

PASSWORD = "correct horse battery"


@dataclass
class World:
    incident_a: int  # nordhafen, sev1
    incident_b: int  # lindqvist, sev1
    status_a: str
    status_b: str
    api_staff: str  # every scope, every client
    api_a: str  # every scope, nordhafen only
    api_b: str  # every scope, lindqvist only
    readonly: str  # incidents:read only


def two_client_binder(example_dir: Path) -> Binder:
    nordhafen = load_binder(example_dir).clients[0]
    info = nordhafen.client.model_copy(
        update={
            "id": "lindqvist",
            "name": "Lindqvist Bygg AB",
            "timezone": "Europe/Stockholm",
            "status_page_title": None,
        }
    )
    lindqvist = nordhafen.model_copy(update={"client": info, "maintenance_windows": []})
    return Binder(clients=[nordhafen, lindqvist])


def seed(engine: Engine, clock: FrozenClock, example_dir: Path) -> World:
    with session_scope(engine) as s:
        sync_binder(s, two_client_binder(example_dir), clock)
        accounts.add_user(
            s,
            clock,
            username="alice",
            role="L1",
            password=PASSWORD,
            display_name="Alice Ops",
            actor="test",
        )
        accounts.add_user(
            s, clock, username="mona", role="manager", password=PASSWORD, actor="test"
        )
        ids = []
        for client in ("nordhafen", "lindqvist"):
            inc = lifecycle.trigger(
                s,
                clock,
                client_id=client,
                procedure_key="check-tms-backup",
                dedup_key=f"{client}:check-tms-backup",
                title=f"TMS backup missing ({client})",
                severity="sev1",
                details={"error": "no backup newer than 26h"},
            )
            ids.append(inc.id)
        scopes = list(accounts.SCOPES)
        tok = {
            "status_a": accounts.issue_status_token(
                s, clock, client_id="nordhafen", name="page", actor="test"
            ),
            "status_b": accounts.issue_status_token(
                s, clock, client_id="lindqvist", name="page", actor="test"
            ),
            "api_staff": accounts.issue_api_token(
                s, clock, name="ops", scopes=scopes, actor="test", username="alice"
            ),
            "api_a": accounts.issue_api_token(
                s, clock, name="a", scopes=scopes, actor="test", client_id="nordhafen"
            ),
            "api_b": accounts.issue_api_token(
                s, clock, name="b", scopes=scopes, actor="test", client_id="lindqvist"
            ),
            "readonly": accounts.issue_api_token(
                s, clock, name="ro", scopes=["incidents:read"], actor="test"
            ),
        }
    return World(ids[0], ids[1], **{k: v.token for k, v in tok.items()})


def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2's production cost is ~0.5 s per hash on these machines; tests need correctness."""
    from argon2 import PasswordHasher

    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
