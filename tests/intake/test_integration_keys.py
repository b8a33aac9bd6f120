"""`opsbinder integrations create|list|revoke` through the installed command: the key shown once,
kept as a hash, audited, and refused by the PagerDuty door once revoked."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import AccessToken, AuditEntry
from opsbinder.sync import sync_binder
from opsbinder.web import create_app
from tests.cli.installed import EXAMPLE, environment, run_cli


def test_it_shows_the_key_once_keeps_a_hash_audits_and_revokes(
    store: Engine, clock: FrozenClock, tmp_path: Path
):
    with session_scope(store) as s:
        sync_binder(s, load_binder(EXAMPLE), clock)
    env = environment(tmp_path / "home", store.url.render_as_string(hide_password=False))
    made = run_cli(["integrations", "create", "--client", "nordhafen", "--name", "zabbix"], env)
    assert made.code == 0, str(made)
    key = made.out.strip()
    assert key.startswith("obi_") and len(key) == 32  # a PagerDuty routing key's length
    assert "/v2/enqueue" in made.err and "/alertmanager" in made.err
    listed = run_cli(["integrations", "list"], env)
    assert key[:12] in listed.out and key not in listed.output and "zabbix" in listed.out
    with session_scope(store) as s:
        row = s.execute(select(AccessToken).where(AccessToken.kind == "integration")).scalar_one()
        assert row.token_hash != key and key not in str(row.__dict__)

    web = TestClient(create_app(store, clock, secret="t"))
    event = {"routing_key": key, "event_action": "trigger", "payload": {
        "summary": "x", "source": "y", "severity": "info"}}  # fmt: skip
    assert web.post("/v2/enqueue", json=event).status_code == 202
    shown = run_cli(["incidents", "list", "--json"], env)
    [listed_incident] = json.loads(shown.out)
    assert (listed_incident["source"], listed_incident["severity"]) == ("pagerduty", "sev4")
    detail = run_cli(["incidents", "show", str(listed_incident["id"])], env)
    assert "pagerduty" in detail.out, str(detail)
    revoked = run_cli(["integrations", "revoke", key[:12]], env)
    assert revoked.code == 0 and "revoked" in revoked.out, str(revoked)
    assert web.post("/v2/enqueue", json=event).status_code == 400
    with session_scope(store) as s:
        actions = s.execute(
            select(AuditEntry.action, AuditEntry.details).where(
                AuditEntry.object_type == "access_token"
            )
        ).all()
    assert [a for a, _ in actions] == ["token.issued", "token.revoked"]
    assert actions[0][1]["kind"] == "integration" and key not in str(actions)
