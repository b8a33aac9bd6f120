"""Lockdown against a real Prefect API: the client's deployments are paused there, and resumed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder import accounts
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.prefect, pytest.mark.slow]


@pytest.fixture
def deployed(
    loaded: Engine,
    backend: str,
    clock: FrozenClock,
    prefect_api: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Engine:
    if backend != "sqlite":
        pytest.skip("the server side does not depend on the store backend")
    from prefect.settings import PREFECT_API_URL

    from deployments.build import build_specs
    from opsbinder.orchestrator import deployments as orch

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    with session_scope(loaded) as session:
        accounts.add_user(
            session, clock, username="ada", role="admin", password="correct horse 42", actor="t"
        )
    orch.ensure_process_pool("opsbinder-test")
    orch.apply(build_specs(loaded), work_pool="opsbinder-test", project_root=ROOT)
    yield loaded
    orch.apply([], work_pool="opsbinder-test", project_root=ROOT)


def _paused() -> dict[str, bool]:
    from opsbinder.orchestrator import deployments as orch

    return {d.name: d.paused for d in orch.read_ours() if d.tag_value("procedure") is not None}


def test_it_pauses_the_clients_deployments_on_the_server_and_the_lift_resumes_only_those(
    deployed: Engine, tmp_path: Path
) -> None:
    from opsbinder.cli.main import app

    assert _paused() and not any(_paused().values())
    paused_alone = CliRunner().invoke(app, ["pause", "check-tms-backup"])
    assert paused_alone.exit_code == 0, paused_alone.output

    locked = CliRunner().invoke(
        app, ["lockdown", "--client", "nordhafen", "--actor", "lena", "--out", str(tmp_path / "x")]
    )

    assert locked.exit_code == 0, locked.output
    assert all(_paused().values()), _paused()
    assert "paused on the server: " in locked.output

    lifted = CliRunner().invoke(
        app,
        ["lockdown", "--client", "nordhafen", "--lift", "--admin", "ada"],
        env={"OPSBINDER_ADMIN_PASSWORD": "correct horse 42"},
    )

    assert lifted.exit_code == 0, lifted.output
    after = _paused()
    assert after.pop("nordhafen.check-tms-backup") is True  # paused on its own: stays so
    assert not any(after.values()), after
