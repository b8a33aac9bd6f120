"""Archive deletes a batch's rows in the snapshot the file was exported from (PostgreSQL): rows
that appear in the batch's range later, keys the database orders otherwise than Python, and
the commit that lets a manifest be marked done, against a server whose default is not to wait
for the disk."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, event, select, text

from opsbinder.procedures import archive, archive_files
from opsbinder.procedures import archive_deletes as deletes
from tests.procedures.conftest import archive_proc

PROC = "archive-tracking-events"


def _folder(db: Any) -> Path:
    return db.tmp / "archive" / "nordhafen" / "tms-db" / PROC


def _archived(folder: Path, key: str = "id") -> list[Any]:
    return [
        r[key] for m in archive_files.manifests_in(folder) for r in archive_files.read_verified(m)
    ]


def test_it_keeps_a_row_written_into_the_batch_after_the_export(
    client_db: Any, make_ctx: Any, clock: Any, monkeypatch: Any
) -> None:
    """A row inserted with an old age and a key inside the batch's range while the file is
    written is in no file: it stays, and the next run archives it."""
    table = client_db.fill(clock.now(), old=40, new=0)
    with client_db.engine.begin() as conn:
        late = conn.execute(select(table).where(table.c.id == 7)).mappings().one()
        conn.execute(table.delete().where(table.c.id == 7))

    def insert_row_7(name: str) -> None:
        if name == "after_manifest":
            with client_db.engine.begin() as conn:
                conn.execute(table.insert(), [dict(late)])

    monkeypatch.setattr(archive, "step_hook", insert_row_7)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert client_db.ids() == {7}
    assert 7 not in [int(k) for k in _archived(_folder(client_db))]
    assert result.metrics["rows_deleted"] == 39
    # PostgreSQL: the delete imports the export's snapshot, in which the row does not exist
    assert result.metrics.get("chunks_deleted_by_key", 0) == 0

    monkeypatch.setattr(archive, "step_hook", None)
    again = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert again.status == "ok", again.findings
    assert sorted(int(k) for k in _archived(_folder(client_db))) == list(range(1, 41))
    assert client_db.count() == 0


@pytest.mark.parametrize("change", ["truck", "recorded_at"])
def test_it_deletes_a_row_changed_after_the_export_only_by_its_archived_key(
    client_db: Any, make_ctx: Any, clock: Any, monkeypatch: Any, change: str
) -> None:
    """A row changed after the export makes the snapshot's delete fail for its chunk, which is
    then deleted by the archived keys of rows still old: a row that became young stays."""
    if client_db.backend != "postgresql":
        pytest.skip("snapshots are exported and imported on PostgreSQL")
    table = client_db.fill(clock.now(), old=40, new=0)
    value = {"truck": "changed", "recorded_at": clock.now()}[change]

    def touch_row_5(name: str) -> None:
        if name == "after_manifest":
            with client_db.engine.begin() as conn:
                conn.execute(table.update().where(table.c.id == 5).values({change: value}))

    monkeypatch.setattr(archive, "step_hook", touch_row_5)
    monkeypatch.setattr(archive, "DELETE_CHUNK", 10)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["chunks_deleted_by_key"] == 1  # of four: the others from the snapshot
    if change == "recorded_at":
        assert client_db.ids() == {5}


def test_it_deletes_every_archived_key_the_database_orders_otherwise_than_python(
    client_db: Any, make_ctx: Any, clock: Any
) -> None:
    """A text key under a linguistic collation: PostgreSQL sorts 'apple' < 'Banana' < 'cherry',
    Python 'Banana' < 'apple'. A batch deleted by the range of its Python minimum and maximum
    missed 'apple', and the next run archived it a second time."""
    if client_db.backend != "postgresql":
        pytest.skip("collations are PostgreSQL's here")
    with client_db.engine.connect() as conn:
        icu = conn.execute(text("SELECT 1 FROM pg_collation WHERE collname = 'en-x-icu'")).first()
    if icu is None:
        pytest.skip("this PostgreSQL has no ICU collations")
    table = Table(
        "parcels",
        MetaData(),
        Column("code", String(collation="en-x-icu"), primary_key=True),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    table.create(client_db.engine)
    old = clock.now() - timedelta(days=100)
    codes = ["apple", "Banana", "cherry", "Date", "elder"]
    with client_db.engine.begin() as conn:
        conn.execute(table.insert(), [{"code": c, "recorded_at": old} for c in codes])
        ordered = list(conn.execute(select(table.c.code).order_by(table.c.code)).scalars())
    assert ordered == sorted(codes, key=str.lower) != sorted(codes)  # the setup's premise
    proc = archive_proc(table="parcels", key_column="code", format="csv", compression="zstd")
    for _ in range(2):
        result = archive.run(make_ctx(PROC), proc, client_db.system)
        assert result.status == "ok", result.findings
    with client_db.engine.connect() as conn:
        assert list(conn.execute(select(table.c.code))) == []
    assert sorted(_archived(_folder(client_db), "code")) == sorted(codes)  # each once


def test_it_waits_for_the_disk_before_a_batch_counts_as_deleted(
    client_db: Any, make_ctx: Any, clock: Any, monkeypatch: Any
) -> None:
    """A server that by default does not wait for the disk at commit (synchronous_commit off)
    could lose a delete in a crash after its manifest was marked done, and a later run would
    archive the rows again: each batch's last delete commits synchronously."""
    if client_db.backend != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")
    client_db.fill(clock.now(), old=60, new=0)
    with client_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        name = client_db.engine.url.database
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    events: list[str] = []
    setting: dict[int, str] = {}  # per connection: its transaction's SET LOCAL, if any

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if conn.engine.url.database == name and "synchronous_commit TO" in sql:
            setting[id(conn.connection)] = sql.rsplit(" ", 1)[-1]

    def committed(conn: Any) -> None:
        if conn.engine.url.database == name:
            events.append(
                f"COMMIT with synchronous_commit {setting.pop(id(conn.connection), 'off')}"
            )

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", committed)
    monkeypatch.setattr(archive, "DELETE_CHUNK", 8)
    monkeypatch.setattr(archive_files, "mark_done", _marked(events, archive_files.mark_done))
    try:
        result = archive.run(make_ctx(PROC), archive_proc(batch_size=20), client_db.system)
    finally:
        event.remove(Engine, "before_cursor_execute", statement)
        event.remove(Engine, "commit", committed)
    assert result.status == "ok", result.findings
    assert client_db.count() == 0
    marks = [i for i, e in enumerate(events) if e == "mark done"]
    assert len(marks) == 3  # the setup: three batches of 20, each deleted in chunks of 8
    for mark in marks:
        commits = [e for e in events[:mark] if e.startswith("COMMIT with")]
        assert commits[-1] == "COMMIT with synchronous_commit on"
    deletes = [e for e in events if e.startswith("COMMIT with")]
    assert "COMMIT with synchronous_commit off" in deletes  # the chunks before a batch's last


def _marked(events: list[str], mark_done: Any) -> Any:
    def mark(manifest: Any) -> None:
        events.append("mark done")
        mark_done(manifest)

    return mark


def test_it_ends_the_snapshots_exported_ahead_when_a_batch_fails(
    client_db: Any, make_ctx: Any, clock: Any, monkeypatch: Any
) -> None:
    """Exports run ahead until HELD snapshots are open, then wait for room; a failing batch
    ends them all: the run returns, and no transaction of it is left open in the database."""
    if client_db.backend != "postgresql":
        pytest.skip("snapshots are exported and imported on PostgreSQL")
    client_db.fill(clock.now(), old=100, new=0)
    waited = threading.Event()

    def fail_once_exports_wait(name: str) -> None:
        if name == "after_manifest":
            waited.wait(30)  # until an export waits for room (asserted below)
            raise OSError("disk gone")

    real_acquire = deletes.Snapshots.hold

    def hold(self: Any) -> Any:
        if len(self._open) >= deletes.HELD:
            waited.set()
        return real_acquire(self)

    monkeypatch.setattr(deletes.Snapshots, "hold", hold)
    monkeypatch.setattr(archive, "step_hook", fail_once_exports_wait)
    results: list[Any] = []
    run = threading.Thread(
        target=lambda: results.append(
            archive.run(make_ctx(PROC), archive_proc(batch_size=10), client_db.system)
        ),
        daemon=True,
    )
    run.start()
    run.join(120)
    assert not run.is_alive(), "the run hung with exports waiting for room"
    assert waited.is_set()  # the setup: an export was waiting when the batch failed
    (result,) = results
    assert result.status == "failed" and "disk gone" in result.summary
    assert client_db.count() == 100
    for _ in range(100):  # a closed connection's server process ends a moment later
        with client_db.engine.connect() as conn:
            left = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        if not left:
            break
        time.sleep(0.1)
    assert left == 0
