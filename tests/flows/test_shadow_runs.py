"""A shadow import runs purge and archive through their flows as dry runs: the rows stay, no
file is written, and a failed shadow run pages no one; going live makes the same run delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flows import procedures
from opsbinder.clock import SystemClock
from opsbinder.handover.binder_yaml import write_yaml
from opsbinder.handover.importer import import_binder
from opsbinder.shadow import end
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage, Run
from tests.flows.conftest import write_backups
from tests.procedures.binders import client_binder, procedure
from tests.procedures.conftest import URL_ENV, ClientDb, _client_db

pytestmark = pytest.mark.prefect
PURGE = {"table": "tracking_events", "age_column": "recorded_at", "retention_days": 90}
ARCHIVE = {
    "table": "delivered_orders",
    "age_column": "recorded_at",
    "key_column": "id",
    "older_than_days": 90,
    "destination": "${ARCHIVE_DIR}",
}


@pytest.fixture
def client_db(backend: str, tmp_path: Path) -> Iterator[ClientDb]:
    yield from _client_db(backend, tmp_path, "client.db")


@pytest.fixture
def shadowed(
    store: Engine, prefect_api: None, client_db: ClientDb, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> ClientDb:  # fmt: skip
    """Acme imported with --shadow: 30 old and 10 new rows in each table, a stale backup."""
    now = datetime.now(UTC)
    client_db.fill(now, old=30, new=10)
    client_db.fill(now, old=30, new=10, name="delivered_orders")
    stale = tmp_path / "stale"
    stale.mkdir()
    write_backups(stale, newest_hours=80)
    monkeypatch.setenv(URL_ENV, client_db.url)
    monkeypatch.setenv("ARCHIVE_DIR", str(tmp_path / "archive"))
    cb = client_binder(
        [
            {"id": "tms-db", "type": "database", "url_env": URL_ENV},
            {"id": "nas", "type": "backup_location", "path": str(stale), "pattern": "db-*.dump"},
        ],
        [
            procedure("purge-events", "purge", system="tms-db", params=PURGE),
            procedure("archive-orders", "archive", system="tms-db", params=ARCHIVE),
            procedure("check-backup", "backup_check", system="nas", params={"max_age": "26h"}),
        ],
    )
    folder = tmp_path / "binder"
    write_yaml(cb, folder)
    with session_scope(store) as session:
        until = now.date() + timedelta(days=14)
        import_binder(session, folder, SystemClock(), actor="successor", shadow_until=until)
    return client_db


def _run_of(store: Engine, flow_run_id: object) -> Run:
    with session_scope(store) as session:
        run = session.execute(select(Run).where(Run.flow_run_id == str(flow_run_id))).scalar_one()
        session.expunge(run)
        return run


def _count(store: Engine, model: type) -> int:
    with session_scope(store) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_shadow_purge_and_archive_are_dry_runs_until_the_successor_goes_live(
    shadowed: ClientDb, store: Engine, tmp_path: Path
) -> None:
    purged = procedures.purge(client_id="acme", procedure_id="purge-events", return_state=True)
    archived = procedures.archive(
        client_id="acme", procedure_id="archive-orders", return_state=True
    )

    for state in (purged, archived):
        assert state.is_completed(), state.message
        run = _run_of(store, state.state_details.flow_run_id)
        assert (run.outcome, run.dry_run, run.metrics["planned_rows"]) == ("ok", True, 30)
        assert run.metrics["rows_deleted"] == 0
        assert run.reason.endswith(": a dry run, nothing changed)"), run.reason
    assert shadowed.count() == 40 and shadowed.count("delivered_orders") == 40
    assert not (tmp_path / "archive").exists()  # no archive file either

    failed = procedures.backup_check(
        client_id="acme", procedure_id="check-backup", return_state=True
    )
    assert failed.is_failed()  # the shadow found the stale backup...
    assert _run_of(store, failed.state_details.flow_run_id).dry_run
    assert (_count(store, Incident), _count(store, OutboxMessage)) == (0, 0)  # ...told no one

    with session_scope(store) as session:
        end(session, SystemClock(), "acme", actor="successor")
    live = procedures.purge(client_id="acme", procedure_id="purge-events", return_state=True)
    assert live.is_completed(), live.message
    assert not _run_of(store, live.state_details.flow_run_id).dry_run
    assert shadowed.count() == 10  # the same run, live, deletes
