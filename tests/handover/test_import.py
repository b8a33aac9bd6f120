"""Import by a successor: export from one store, import into a fresh one on the other database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from opsbinder.binder_store import client_binder
from opsbinder.cli.main import app
from opsbinder.clock import FrozenClock
from opsbinder.handover.export import export_client
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Procedure
from tests.support import pg
from tests.support.store import migrated_engine

FIELDS = (
    "key",
    "name",
    "kind",
    "cron",
    "timezone",
    "cadence",
    "severity",
    "owner",
    "grace_seconds",
    "definition",
    "config_hash",
    "paused",
    "active",
)


def _other_store(backend: str, tmp_path: Path, pg_available: bool) -> Engine:
    if backend == "postgresql":
        return migrated_engine(f"sqlite:///{tmp_path / 'successor.db'}")
    if not pg_available:
        pytest.skip("PostgreSQL not reachable: the SQLite -> PostgreSQL import needs it")
    return migrated_engine(pg.create_database("successor"))


def _snapshot(engine: Engine) -> dict[str, Any]:
    with session_scope(engine) as session:
        # where items are written is the folder each store was loaded from: it may differ
        binder = client_binder(session, "nordhafen").model_dump(mode="json", exclude={"locations"})
        rows = session.execute(
            select(Procedure).where(Procedure.client_id == "nordhafen").order_by(Procedure.key)
        ).scalars()
        procedures = [{f: getattr(r, f) for f in FIELDS} for r in rows]
    binder["procedures"] = sorted(binder["procedures"], key=lambda p: p["id"])
    return {"binder": binder, "procedures": procedures}


@pytest.mark.slow
def test_it_imports_an_export_into_a_fresh_install_on_the_other_database(
    loaded: Engine,
    backend: str,
    clock: FrozenClock,
    tmp_path: Path,
    pg_available: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with session_scope(loaded) as session:
        export_client(session, "nordhafen", tmp_path / "handover", clock, actor="outgoing")
    successor = _other_store(backend, tmp_path, pg_available)
    assert successor.dialect.name != loaded.dialect.name
    monkeypatch.setenv(
        "OPSBINDER_DATABASE_URL", successor.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("OPSBINDER_ACTOR", "successor-admin")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["binder", "import", str(tmp_path / "handover")])

    assert result.exit_code == 0, result.output
    assert "8 created" in result.output
    assert "opsbinder deploy" in result.output
    before, after = _snapshot(loaded), _snapshot(successor)
    assert after["binder"] == before["binder"]  # policies, rotation, contacts, calendar, ...
    assert after["procedures"] == before["procedures"]  # schedules, definitions, pauses
    with session_scope(successor) as session:
        actions = list(
            session.execute(select(AuditEntry.action, AuditEntry.actor).order_by(AuditEntry.seq))
        )
    assert ("binder.imported", "successor-admin") in actions
    successor.dispose()


def test_it_refuses_a_broken_binder_and_writes_nothing(
    store: Engine, tmp_path: Path, example_dir: Path
) -> None:
    folder = tmp_path / "handover" / "binder"
    folder.mkdir(parents=True)
    for path in example_dir.glob("*.yaml"):
        (folder / path.name).write_text(path.read_text())
    text = (folder / "procedures.yaml").read_text()
    (folder / "procedures.yaml").write_text(text.replace("owner: tom-berger", "owner: nobody", 1))
    from opsbinder.errors import ConfigError
    from opsbinder.handover.importer import import_binder

    with (
        pytest.raises(ConfigError, match="owner: no contact with this id"),
        session_scope(store) as s,
    ):
        import_binder(s, tmp_path / "handover", FrozenClock(), actor="x")
    with session_scope(store) as session:
        assert session.execute(select(Procedure)).first() is None
