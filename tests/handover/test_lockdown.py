"""Lockdown and its lift: pause, revoke the outgoing provider's tokens, checklist, audit, export."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from opsbinder import accounts
from opsbinder import audit as audit_log
from opsbinder.cli.main import app, main
from opsbinder.clock import FrozenClock, utc
from opsbinder.store.db import session_scope
from opsbinder.store.models import AccessToken, AuditEntry, Client, WorkItem

# The CLI's export names each procedure's Prefect deployment, which imports the flows (Prefect):
# several seconds on the first call in a process.
pytestmark = pytest.mark.slow
PASSWORD = "correct horse 42"
ADMIN_PASSWORD = {"OPSBINDER_ADMIN_PASSWORD": PASSWORD}


@pytest.fixture
def staffed(loaded: Engine, clock: FrozenClock) -> dict[str, int]:
    """An admin, an engineer, and tokens of every sort; returns token ids by purpose."""
    with session_scope(loaded) as session:
        for name, role in (("ada", "admin"), ("lena", "L1")):
            accounts.add_user(
                session, clock, username=name, role=role, password=PASSWORD, actor="t"
            )

        def api(name: str, client_id: str | None, provider: str = "msp") -> int:
            issued = accounts.issue_api_token(
                session,
                clock,
                name=name,
                scopes=["incidents:read"],
                actor="t",
                client_id=client_id,
                username="lena",
            )
            issued.row.provider = provider
            return issued.row.id

        ids = {
            "msp-client": api("lena laptop", "nordhafen"),
            "msp-client-2": api("ci robot", "nordhafen"),
            "msp-global": api("lena all clients", None),
            "successor": api("newco engineer", "nordhafen", provider="newco"),
            "status": accounts.issue_status_token(
                session, clock, client_id="nordhafen", name="COO", actor="t"
            ).row.id,
        }
    return ids


def _revoked(engine: Engine) -> dict[int, bool]:
    with session_scope(engine) as session:
        return {
            t.id: t.revoked_at is not None for t in session.execute(select(AccessToken)).scalars()
        }


def _client(engine: Engine) -> tuple[bool, bool]:
    with session_scope(engine) as session:
        client = session.get(Client, "nordhafen")
        assert client is not None
        return client.paused, client.locked_down


def _actions(engine: Engine, since: int = 0) -> list[str]:
    with session_scope(engine) as session:
        return list(
            session.execute(
                select(AuditEntry.action)
                .where(AuditEntry.client_id == "nordhafen", AuditEntry.seq > since)
                .order_by(AuditEntry.seq)
            ).scalars()
        )


def _last_seq(engine: Engine) -> int:
    with session_scope(engine) as session:
        return (
            session.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))
            .scalars()
            .first()
            or 0
        )


def test_it_locks_a_client_down_and_an_admin_lifts_it_without_bringing_tokens_back(
    loaded: Engine, staffed: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBINDER_ACTOR", "lena")
    start = _last_seq(loaded)
    out = tmp_path / "lockdown-export"

    result = CliRunner().invoke(app, ["lockdown", "--client", "nordhafen", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert _client(loaded) == (True, True)
    revoked = _revoked(loaded)
    assert revoked[staffed["msp-client"]] and revoked[staffed["msp-client-2"]]
    assert not revoked[staffed["msp-global"]]  # not scoped to this client
    assert not revoked[staffed["successor"]]  # the incoming provider's
    assert not revoked[staffed["status"]]  # the client's own stakeholders' status page
    with session_scope(loaded) as session:
        item = session.execute(select(WorkItem)).scalar_one()
        assert item.title == "Immediate lockdown (change of support provider)"
        assert item.assignee == "claudia-roth" and len(item.steps) == 3
        assert utc(item.due_at) - utc(item.created_at) == timedelta(days=1)
        assert audit_log.verify(session, "nordhafen")[1] == []
    actions = _actions(loaded, start)
    assert actions == [
        "lockdown.started",
        "client.paused",
        "token.revoked",
        "token.revoked",
        "checklist.created",
        "client.locked_down",
        "binder.exported",
    ]
    index = (out / "index.html").read_text()
    assert "Locked down" in index
    assert "client.locked_down" in (out / "audit-log.html").read_text()
    # the CLI's export names the Prefect side: flow entrypoint and deployment
    page = (out / "procedures" / "check-tms-backup.html").read_text()
    assert "prefect deployment run '" in page and "/nordhafen.check-tms-backup'" in page
    assert (
        '"flow_entrypoint": "flows/procedures.py:backup_check"'
        in (out / "binder" / "entrypoints.json").read_text()
    )

    lifted = CliRunner().invoke(
        app, ["lockdown", "--client", "nordhafen", "--lift", "--admin", "ada"], env=ADMIN_PASSWORD
    )

    assert lifted.exit_code == 0, lifted.output
    assert _client(loaded) == (False, False)
    assert _revoked(loaded) == revoked  # revoked tokens stay revoked
    assert "issue new ones" in lifted.output
    assert _actions(loaded)[-2:] == ["client.resumed", "client.lockdown_lifted"]


def test_it_refuses_a_lift_by_someone_who_is_not_an_admin(
    loaded: Engine,
    staffed: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPSBINDER_ACTOR", "lena")
    assert (
        CliRunner()
        .invoke(app, ["lockdown", "--client", "nordhafen", "--out", str(tmp_path / "x")])
        .exit_code
        == 0
    )
    capsys.readouterr()
    for argv, says in (
        (["--lift"], "only an admin may lift a lockdown"),
        (["--lift", "--actor", "ada"], "only an admin may lift a lockdown"),  # a name is no proof
        (["--lift", "--admin", "lena"], "only an admin may lift a lockdown"),  # proven, not admin
        (["--lift", "--admin", "mallory"], "--admin mallory: unknown user or wrong password"),
    ):
        monkeypatch.setattr(sys, "argv", ["opsbinder", "lockdown", "--client", "nordhafen", *argv])
        monkeypatch.setenv("OPSBINDER_ADMIN_PASSWORD", PASSWORD)
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 4
        err = capsys.readouterr().err
        assert says in err
        assert "Traceback" not in err
    assert _client(loaded) == (True, True)


def test_it_leaves_a_client_paused_before_the_lockdown_paused_after_the_lift(
    loaded: Engine, staffed: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBINDER_ACTOR", "lena")
    runner = CliRunner()
    assert runner.invoke(app, ["pause", "--client", "nordhafen"]).exit_code == 0
    assert (
        runner.invoke(
            app, ["lockdown", "--client", "nordhafen", "--out", str(tmp_path / "x")]
        ).exit_code
        == 0
    )
    lifted = runner.invoke(
        app, ["lockdown", "--client", "nordhafen", "--lift", "--admin", "ada"], env=ADMIN_PASSWORD
    )
    assert lifted.exit_code == 0, lifted.output
    assert _client(loaded) == (True, False)
    assert "stays paused" in lifted.output


def test_it_writes_the_lockdown_export_under_the_home_folder_by_default(
    loaded: Engine, staffed: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path / "home"))
    from opsbinder.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["lockdown", "--client", "nordhafen", "--actor", "lena"])
    assert result.exit_code == 0, result.output
    exports = list((tmp_path / "home" / "exports").iterdir())
    assert len(exports) == 1 and exports[0].name.startswith("nordhafen-lockdown-")
    assert (exports[0] / "binder" / "procedures.yaml").exists()
