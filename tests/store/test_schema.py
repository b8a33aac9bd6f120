"""The schema comes from the migrations alone, and `opsbinder db` drives them on a fresh store."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from opsbinder.cli.main import app, main
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.migrate import current_heads, pending
from opsbinder.store.models import Base, Client, Incident
from tests.support import pg


def test_it_creates_every_model_table_and_column_through_migrations(store: Engine):
    inspector = inspect(store)
    assert set(inspector.get_table_names()) - {"alembic_version"} == set(Base.metadata.tables)
    for name, table in Base.metadata.tables.items():
        in_db = {column["name"] for column in inspector.get_columns(name)}
        assert in_db == set(table.columns.keys()), name


def test_it_creates_every_named_index_of_the_models(store: Engine):
    inspector = inspect(store)
    for name, table in Base.metadata.tables.items():
        wanted = {index.name for index in table.indexes if index.name}
        present = {index["name"] for index in inspector.get_indexes(name)}
        if store.dialect.name == "postgresql":  # unique constraints may appear as indexes
            present |= {c["name"] for c in inspector.get_unique_constraints(name)}
        assert wanted <= present, (name, wanted - present)


def test_it_leaves_nothing_pending_after_the_fixture_migrated(store: Engine):
    assert pending(store) == []
    assert current_heads(store)


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh' / 'opsbinder.db'}"
    return pg.create_database("dbcli")


def test_it_upgrades_a_fresh_store_from_the_cli(fresh_url: str, monkeypatch):
    monkeypatch.setenv("OPSBINDER_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    runner = CliRunner()
    before = runner.invoke(app, ["db", "status"])
    assert before.exit_code == 0, before.output
    assert "applied: none" in before.output
    pending = before.output.split("pending:")[1].split("\n")[0].strip()
    assert pending and pending != "none"  # the newest revision(s), e.g. 0002_run_grants

    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output

    after = runner.invoke(app, ["db", "status"])
    assert "pending: none" in after.output
    applied = after.output.split("applied:")[1].split("\n")[0]
    assert applied.strip() and applied.strip() != "none"

    again = runner.invoke(app, ["db", "upgrade"])  # idempotent
    assert again.exit_code == 0, again.output


def test_it_defaults_to_a_sqlite_file_under_opsbinder_home(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("OPSBINDER_DATABASE_URL", raising=False)
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    assert get_settings().store_url == f"sqlite:///{tmp_path / 'home' / 'opsbinder.db'}"
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "opsbinder.db").is_file()


def _client(session, clock) -> None:
    now = clock.now()
    session.add(Client(id="nordhafen", name="Nordhafen", created_at=now, updated_at=now))
    session.flush()


def _incident(clock, state: str = "triggered", key: str = "nordhafen/check-tms-backup"):
    now = clock.now()
    return Incident(
        client_id="nordhafen",
        dedup_key=key,
        title="backup too old",
        severity="sev2",
        state=state,
        opened_at=now,
        last_occurrence_at=now,
    )


def test_it_refuses_a_second_open_incident_with_the_same_dedup_key(store: Engine, clock):
    with session_scope(store) as session:
        _client(session, clock)
        session.add(_incident(clock))
    with pytest.raises(IntegrityError), session_scope(store) as session:
        session.add(_incident(clock, state="acknowledged"))
    with session_scope(store) as session:
        assert session.query(Incident).count() == 1


def test_it_allows_a_new_open_incident_once_the_old_one_is_resolved(store: Engine, clock):
    with session_scope(store) as session:
        _client(session, clock)
        session.add(_incident(clock, state="resolved"))
        session.add(_incident(clock, state="resolved"))
    clock.advance(timedelta(hours=1))
    with session_scope(store) as session:
        session.add(_incident(clock))  # the resolved ones do not count
        session.add(_incident(clock, key="nordhafen/check-disk-space"))  # other key: fine
    with store.connect() as conn:
        states = conn.execute(
            text("SELECT state, count(*) FROM incidents GROUP BY state ORDER BY state")
        ).all()
    assert [tuple(row) for row in states] == [("resolved", 2), ("triggered", 2)]


@pytest.mark.parametrize("command", [["db", "status"], ["db", "upgrade"], ["audit", "verify"]])
@pytest.mark.parametrize(
    ("url", "says", "code"),
    [
        ("postgresql+psycopg2://nobody:s3cret@127.0.0.1:1/x", "cannot reach the store at", 5),
        ("sqlite:////proc/opsbinder-forbidden/x.db", "cannot create the store's folder", 5),
        ("not a url", "OPSBINDER_DATABASE_URL is not a database URL", 2),
    ],
)
def test_it_explains_an_unusable_store_without_a_traceback(
    url, says, code, command, monkeypatch, capsys
):
    monkeypatch.setenv("OPSBINDER_DATABASE_URL", url)
    monkeypatch.setattr(sys, "argv", ["opsbinder", *command])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    assert exit_info.value.code == code  # README: exit status
    assert says in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert "s3cret" not in captured.err + captured.out
