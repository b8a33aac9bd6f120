"""The world the CLI tests act on: the example client in the store, and a few records in it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder import accounts, outbox
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from tests.cli.installed import EXAMPLE, environment


@dataclass
class World:
    """The example client loaded, one Severity-1 incident, one outbox message, one API token."""

    engine: Engine
    tmp: Path
    env: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)

    def args(self, line: str) -> list[str]:
        return [word.format(**self.values) for word in shlex.split(line)]


@pytest.fixture
def world(store: Engine, tmp_path: Path, clock: FrozenClock) -> World:
    with session_scope(store) as session:
        sync_binder(session, load_binder(EXAMPLE), clock, actor="sync")
        incident = lifecycle.trigger(
            session,
            clock,
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup",
            title="check-tms-backup: Failed",
            severity="sev1",
            details={"error": "newest backup 3d old"},
        )
        message = outbox.enqueue(
            session,
            clock,
            channel="webhook",
            target="ops-pager",
            route={"id": "ops-pager", "url_env": "OPSBINDER_TEST_UNSET_URL"},
            body={"text": "test"},
            idempotency_key="test/1",
            client_id="nordhafen",
            incident_id=incident.id,
        )
        token = accounts.issue_api_token(
            session, clock, name="ci-token", scopes=["incidents:read"], actor="t"
        )
        assert message is not None
        values = {"incident": str(incident.id), "message": str(message.id)}
        values["token"] = token.token[:12]
    url = store.url.render_as_string(hide_password=False)
    values.update(example=str(EXAMPLE), tmp=str(tmp_path), missing=str(tmp_path / "missing"))
    return World(store, tmp_path, environment(tmp_path / "home", url), values)
