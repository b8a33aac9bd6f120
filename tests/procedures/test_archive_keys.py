"""Archive and restore by a key of several columns (`key_column: [receipt_id, sold_at]`), on
SQLite and PostgreSQL: the receipts of a retail chain, whose till numbers recur, so no single
column is unique and a range-partitioned table cannot have a unique key without its date."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, Table, event, func, select

from opsbinder.procedures import archive, archive_files, archive_restore
from tests.procedures.conftest import archive_proc

KEY = ["receipt_id", "sold_at"]
LINE_KEY = ["store", "till", "receipt_id", "line"]


def _folder(client_db) -> Path:
    return client_db.tmp / "archive" / "nordhafen" / "tms-db" / "archive-tracking-events"


def _receipts(**params):
    return archive_proc(table="receipts", age_column="sold_at", key_column=KEY, **params)


def _archived(folder: Path) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for manifest in archive_files.manifests_in(folder):
        rows += [
            (int(r["receipt_id"]), r["sold_at"]) for r in archive_files.read_verified(manifest)
        ]
    return rows


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_archives_and_restores_by_a_key_of_two_columns(
    client_db, make_ctx, clock, backend, fmt, compression
):
    client_db.fill_receipts(clock.now(), old=230, new=20, partitioned=backend == "postgresql")
    before = client_db.receipts()
    proc = _receipts(batch_size=100, format=fmt, compression=compression)
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert (result.metrics["rows_archived"], result.metrics["rows_deleted"]) == (230, 230)
    assert result.metrics["files"] == 3
    assert len(client_db.receipts()) == 20
    archived = _archived(_folder(client_db))
    assert len(archived) == len(set(archived)) == 230
    first = archive_files.manifests_in(_folder(client_db))[0].body
    assert first["key_column"] == KEY
    assert isinstance(first["key_min"], list) and len(first["key_min"]) == 2

    table = archive_restore.into_table(client_db.engine, "receipts")
    manifests = archive_restore.manifests_of(_folder(client_db))
    done = archive_restore.restore(client_db.engine, table, manifests)
    assert (done.rows_restored, done.rows_skipped, done.manifests) == (230, 0, 3)
    assert client_db.receipts() == before
    again = archive_restore.restore(client_db.engine, table, manifests)
    assert (again.rows_restored, again.rows_skipped) == (0, 230)


def test_it_finishes_a_composite_key_run_interrupted_after_a_manifest(
    client_db, make_ctx, clock, monkeypatch
):
    """In-process stand-in for the SIGKILL tests: recovery deletes the rows of the manifest
    left behind by their two-column keys, and archives none twice."""
    client_db.fill_receipts(clock.now(), old=90, new=3, partitioned=False)
    original = client_db.receipts()

    def stop(name: str) -> None:
        if name == "after_manifest":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)
    with pytest.raises(KeyboardInterrupt):
        archive.run(make_ctx("archive-tracking-events"), _receipts(batch_size=40), client_db.system)
    assert len(client_db.receipts()) == 93
    monkeypatch.setattr(archive, "step_hook", None)
    result = archive.run(
        make_ctx("archive-tracking-events"), _receipts(batch_size=40), client_db.system
    )
    assert result.status == "ok", result.findings
    assert result.metrics["recovered_rows"] == 40
    archived = _archived(_folder(client_db))
    assert len(archived) == len(set(archived)) == 90
    assert len(client_db.receipts()) == 3
    assert {(r, s) for r, s, _ in client_db.receipts()} <= {(r, s) for r, s, _ in original}


def test_it_moves_rows_to_an_archive_table_by_a_key_of_two_columns(client_db, make_ctx, clock):
    client_db.fill_receipts(clock.now(), old=120, new=7, partitioned=False)
    proc = _receipts(destination="receipts_archive", destination_type="table", batch_size=50)
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert (result.metrics["rows_archived"], result.metrics["rows_deleted"]) == (120, 120)
    assert len(client_db.receipts()) == 7
    assert client_db.count("receipts_archive") == 120


def test_it_says_which_key_a_dry_run_would_delete_by(client_db, make_ctx, clock):
    client_db.fill_receipts(clock.now(), old=40, new=5, partitioned=False)
    ctx = make_ctx("archive-tracking-events", dry_run=True)
    result = archive.run(ctx, _receipts(), client_db.system)
    assert result.status == "ok"
    assert result.summary == (
        f"dry run: would archive 40 rows of receipts older than 2025-12-20 to {_folder(client_db)}"
        ", deleting them by key (receipt_id, sold_at)"
    )
    assert len(client_db.receipts()) == 45 and not _folder(client_db).exists()


def test_it_refuses_a_key_of_columns_not_unique_together(client_db, make_ctx, clock):
    client_db.fill_receipts(clock.now(), old=10, new=0, partitioned=False)
    proc = archive_proc(table="receipts", age_column="sold_at", key_column=["receipt_id", "store"])
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "failed"
    assert result.summary == (
        "nordhafen/archive-tracking-events: params.key_column: ['receipt_id', 'store'] is not "
        "unique in 'receipts' (no primary key, unique index or constraint on these columns or "
        "some of them); archive deletes by key, so it needs a unique one"
    )
    assert len(client_db.receipts()) == 10 and not _folder(client_db).exists()


def test_it_names_the_missing_column_of_a_composite_key(client_db, make_ctx, clock):
    client_db.fill_receipts(clock.now(), old=10, new=0, partitioned=False)
    proc = archive_proc(
        table="receipts", age_column="sold_at", key_column=["receipt_id", "sold_on"]
    )
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "failed"
    assert result.summary == (
        "nordhafen/archive-tracking-events: params.key_column[1]: table 'receipts' has no "
        "column 'sold_on' (it has: receipt_id, store, sold_at)"
    )
    assert len(client_db.receipts()) == 10


@pytest.mark.parametrize("to", ["files", "table"])
def test_a_key_of_four_columns_is_deleted_within_sqlites_bound_value_limit(
    client_db, make_ctx, clock, backend, to
):
    """10,000 keys of four columns in one delete would bind 40,000 values, over SQLite's default
    limit of 32,766 (set here: Python's own build allows more); the deletes are cut smaller."""
    if backend != "sqlite":
        pytest.skip("SQLite's bound value limit")

    def default_limit(dbapi_conn, _record) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)

    lines = Table(
        "till_lines",
        MetaData(),
        *[Column(n, Integer, primary_key=True, autoincrement=False) for n in LINE_KEY],
        Column("sold_at", DateTime(timezone=True), nullable=False),
    )
    lines.create(client_db.engine)
    old = clock.now() - timedelta(days=200)
    with client_db.engine.begin() as conn:
        keys = [(i % 3, i % 7, i // 21, i) for i in range(12000)]
        rows = [dict(zip(LINE_KEY, k, strict=True), sold_at=old) for k in keys]
        conn.execute(lines.insert(), rows)
    event.listen(Engine, "connect", default_limit)
    try:
        moved = {"destination": "till_lines_archive", "destination_type": "table"}
        proc = archive_proc(
            table="till_lines",
            age_column="sold_at",
            key_column=LINE_KEY,
            batch_size=10000,
            **(moved if to == "table" else {}),
        )
        result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    finally:
        event.remove(Engine, "connect", default_limit)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_archived"] == result.metrics["rows_deleted"] == 12000
    with client_db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(lines)).scalar_one() == 0
