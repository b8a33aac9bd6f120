"""`opsbinder archive restore` on the example binder's archive procedure, both backends."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from opsbinder.cli.main import app, main
from opsbinder.config.loader import load_binder
from opsbinder.demo import orders
from opsbinder.procedures import archive
from opsbinder.procedures.context import ProcedureContext
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry


@pytest.fixture
def archived(client_db, store, clock, example_dir, monkeypatch):
    """The example's archive-delivered-orders run once: 120 orders archived, 10 kept."""
    orders.create(client_db.engine)
    now = clock.now()
    with client_db.engine.begin() as conn:
        conn.execute(
            orders.insert(),
            [
                {
                    "id": i,
                    "customer": f"C{i}",
                    "status": "delivered",
                    "destination": None if i % 3 else "Hamburg",
                    "delivered_at": now - timedelta(days=(800 if i <= 120 else 10), minutes=i),
                }
                for i in range(1, 131)
            ],
        )
    env = {
        "NORDHAFEN_TMS_DB_URL": client_db.url,
        "NORDHAFEN_ARCHIVE_DIR": str(client_db.tmp / "share"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client, proc = load_binder(example_dir).find_procedure("nordhafen/archive-delivered-orders")
    ctx = ProcedureContext("nordhafen", proc.id, clock, store, environ=env)
    result = archive.run(ctx, proc, client.system("tms-db"))
    assert result.status == "ok" and result.metrics["rows_archived"] == 120
    return client_db


def _ids(client_db) -> set[int]:
    with client_db.engine.connect() as conn:
        return set(conn.execute(select(orders.c.id)).scalars())


def test_it_restores_a_procedures_archive_into_a_table(archived, store, example_dir):
    assert _ids(archived) == set(range(121, 131))
    args = ["archive", "restore", "archive-delivered-orders", "--into", "orders"]
    result = CliRunner().invoke(app, [*args, "--config", str(example_dir)])
    assert result.exit_code == 0, result.output
    assert "restored 120 rows into orders from 1 archive files" in result.output
    assert _ids(archived) == set(range(1, 131))
    with archived.engine.connect() as conn:
        assert (
            conn.execute(select(orders.c.destination).where(orders.c.id == 3)).scalar() == "Hamburg"
        )
        assert conn.execute(select(orders.c.destination).where(orders.c.id == 4)).scalar() is None
    with session_scope(store) as session:
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "archive.restore")
        ).scalar_one()
    assert entry.object_id == "nordhafen/archive-delivered-orders"
    assert entry.details["rows_restored"] == 120

    again = CliRunner().invoke(app, [*args, "--client", "nordhafen", "--config", str(example_dir)])
    assert again.exit_code == 0, again.output
    assert "restored 0 rows" in again.output and "120 already there" in again.output


def test_it_restores_from_a_manifest_folder(archived, store):
    folder = archived.tmp / "share" / "nordhafen" / "tms-db" / "archive-delivered-orders"
    result = CliRunner().invoke(
        app,
        [
            "archive",
            "restore",
            str(folder),
            "--into",
            "orders",
            "--url-env",
            "NORDHAFEN_TMS_DB_URL",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _ids(archived) == set(range(1, 131))


def _main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["opsbinder", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    return int(exit_.value.code or 0), capsys.readouterr().err


def test_it_refuses_a_procedure_that_is_not_an_archive(archived, example_dir, monkeypatch, capsys):
    code, err = _main(
        monkeypatch, capsys, "archive", "restore", "purge-tracking-events", "--into", "orders",
        "--config", str(example_dir),
    )  # fmt: skip
    assert code == 2  # bad input (README: exit status)
    assert "nordhafen/purge-tracking-events is a purge procedure, not an archive" in " ".join(
        err.split()
    )


def test_it_refuses_a_table_that_does_not_exist(archived, example_dir, monkeypatch, capsys):
    code, err = _main(
        monkeypatch, capsys, "archive", "restore", "archive-delivered-orders", "--into", "orderz",
        "--config", str(example_dir),
    )  # fmt: skip
    assert code == 2
    assert "--into: no table 'orderz'" in err
    assert _ids(archived) == set(range(121, 131))


def test_it_refuses_to_restore_a_corrupt_archive(archived, example_dir, monkeypatch, capsys):
    folder = archived.tmp / "share" / "nordhafen" / "tms-db" / "archive-delivered-orders"
    data = next(p for p in folder.iterdir() if p.name.endswith(".gz"))
    data.write_bytes(data.read_bytes() + b"tampered")
    code, err = _main(
        monkeypatch, capsys, "archive", "restore", str(folder), "--into", "orders",
        "--url-env", "NORDHAFEN_TMS_DB_URL",
    )  # fmt: skip
    assert code == 1
    assert "does not match the manifest" in " ".join(err.split())
    assert _ids(archived) == set(range(121, 131))
