"""Archive on a real client database (SQLite and PostgreSQL): files, manifests, the table
destination, recovery from an interrupted run, and restore."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, select, text

from opsbinder.procedures import archive, archive_files, archive_restore, locks
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry
from tests.procedures.conftest import archive_proc


def _folder(client_db) -> Path:
    return client_db.tmp / "archive" / "nordhafen" / "tms-db" / "archive-tracking-events"


def _snapshot(client_db) -> dict[int, tuple]:
    t = Table("tracking_events", MetaData(), autoload_with=client_db.engine)
    with client_db.engine.connect() as conn:
        return {r.id: (r.truck, r.recorded_at) for r in conn.execute(select(t))}


def _archived_ids(folder: Path) -> list[int]:
    ids: list[int] = []
    for manifest in archive_files.manifests_in(folder):
        ids += [int(r["id"]) for r in archive_files.read_verified(manifest)]
    return ids


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_archives_old_rows_to_verified_files_then_deletes_them(
    client_db, make_ctx, clock, store, fmt, compression
):
    client_db.fill(clock.now(), old=230, new=20)
    ctx = make_ctx("archive-tracking-events")
    result = archive.run(
        ctx, archive_proc(batch_size=100, format=fmt, compression=compression), client_db.system
    )
    assert result.status == "ok", result.findings
    assert result.metrics["rows_archived"] == 230
    assert result.metrics["rows_deleted"] == 230
    assert result.metrics["files"] == 3
    assert client_db.ids() == set(range(231, 251))
    folder = _folder(client_db)
    ext = {"gzip": "gz", "zstd": "zst"}[compression]
    assert sorted(p.name for p in folder.iterdir()) == [
        f"tracking_events.{lo:020d}-{hi:020d}.{fmt}.{ext}{suffix}"
        for lo, hi in [(1, 100), (101, 200), (201, 230)]
        for suffix in ("", ".manifest.json", ".manifest.json.done")
    ]
    first = json.loads(
        (folder / f"tracking_events.{1:020d}-{100:020d}.{fmt}.{ext}.manifest.json").read_text()
    )
    data = (folder / first["file"]).read_bytes()
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert (first["rows"], first["key_min"], first["key_max"]) == (100, 1, 100)
    assert [c["name"] for c in first["columns"]] == ["id", "truck", "recorded_at"]
    assert first["table"] == "tracking_events" and first["format"] == fmt
    assert sorted(_archived_ids(folder)) == list(range(1, 231))
    assert result.metrics["bytes_archived"] == sum(
        json.loads(p.read_text())["bytes"] for p in folder.glob("*.manifest.json")
    )
    with session_scope(store) as session:
        assert session.execute(select(AuditEntry.action)).scalar_one() == "archive.move"


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_restores_an_archive_exactly_and_skips_rows_already_there(
    client_db, make_ctx, clock, fmt, compression
):
    client_db.fill(clock.now(), old=150, new=5)
    before = _snapshot(client_db)
    ctx = make_ctx("archive-tracking-events")
    archive.run(
        ctx, archive_proc(batch_size=64, format=fmt, compression=compression), client_db.system
    )
    assert client_db.count() == 5
    table = archive_restore.into_table(client_db.engine, "tracking_events")
    manifests = archive_restore.manifests_of(_folder(client_db))
    done = archive_restore.restore(client_db.engine, table, manifests)
    assert (done.rows_restored, done.rows_skipped, done.manifests) == (150, 0, 3)
    after = _snapshot(client_db)
    assert {k: (t, r.timestamp()) for k, (t, r) in after.items()} == {
        k: (t, r.timestamp()) for k, (t, r) in before.items()
    }
    again = archive_restore.restore(client_db.engine, table, manifests)
    assert (again.rows_restored, again.rows_skipped) == (0, 150)


def test_it_writes_and_deletes_nothing_on_a_dry_run(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=40, new=5)
    result = archive.run(
        make_ctx("archive-tracking-events", dry_run=True), archive_proc(), client_db.system
    )
    assert result.status == "ok"
    assert result.metrics["planned_rows"] == 40
    assert "would archive 40 rows" in result.summary
    assert client_db.count() == 45
    assert not _folder(client_db).exists()


def test_it_moves_rows_into_an_archive_table_in_one_transaction_per_batch(
    client_db, make_ctx, clock
):
    client_db.fill(clock.now(), old=120, new=7)
    before = _snapshot(client_db)
    proc = archive_proc(
        destination="tracking_events_archive", destination_type="table", batch_size=50
    )
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_archived"] == 120 and result.metrics["rows_deleted"] == 120
    assert client_db.count() == 7
    assert client_db.ids("tracking_events_archive") == set(range(1, 121))
    moved = Table("tracking_events_archive", MetaData(), autoload_with=client_db.engine)
    with client_db.engine.connect() as conn:
        row = conn.execute(select(moved).where(moved.c.id == 1)).one()
    assert row.truck == before[1][0]
    again = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert again.metrics["rows_archived"] == 0 and client_db.count("tracking_events_archive") == 120


def test_it_finishes_an_interrupted_run_without_duplicates(client_db, make_ctx, clock, monkeypatch):
    """In-process stand-in for the SIGKILL test: stop right after a manifest is written."""
    client_db.fill(clock.now(), old=90, new=3)
    original = set(_snapshot(client_db))

    def stop(name: str) -> None:
        if name == "after_manifest":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)
    with pytest.raises(KeyboardInterrupt):
        archive.run(
            make_ctx("archive-tracking-events"), archive_proc(batch_size=40), client_db.system
        )
    assert client_db.count() == 93  # the manifest is there, nothing deleted yet
    monkeypatch.setattr(archive, "step_hook", None)
    result = archive.run(
        make_ctx("archive-tracking-events"), archive_proc(batch_size=40), client_db.system
    )
    assert result.status == "ok", result.findings
    assert result.metrics["recovered_rows"] == 40
    ids = _archived_ids(_folder(client_db))
    assert len(ids) == len(set(ids)) == 90
    assert set(ids) | client_db.ids() == original


def test_it_discards_a_partial_file_and_redoes_the_batch(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=30, new=0)
    folder = _folder(client_db)
    folder.mkdir(parents=True)
    name = f"tracking_events.{1:020d}-{30:020d}.jsonl.gz"
    (folder / (name + ".part")).write_bytes(b"half a file")
    (folder / name).write_bytes(b"renamed, never verified")
    result = archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    assert result.status == "ok"
    assert sorted(_archived_ids(folder)) == list(range(1, 31))
    assert not (folder / (name + ".part")).exists()


def test_it_deletes_nothing_when_an_archive_file_does_not_match_its_manifest(
    client_db, make_ctx, clock, monkeypatch
):
    client_db.fill(clock.now(), old=30, new=0)
    monkeypatch.setattr(
        archive,
        "step_hook",
        lambda n: (_ for _ in ()).throw(KeyboardInterrupt()) if n == "after_manifest" else None,
    )
    with pytest.raises(KeyboardInterrupt):
        archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    monkeypatch.setattr(archive, "step_hook", None)
    data = next(p for p in _folder(client_db).iterdir() if p.name.endswith(".gz"))
    data.write_bytes(data.read_bytes()[:-3] + b"xyz")
    result = archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    assert result.status == "failed"
    assert "does not match the manifest" in result.summary
    assert client_db.count() == 30


def test_it_refuses_a_missing_key_column_before_writing_anything(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    result = archive.run(
        make_ctx("archive-tracking-events"), archive_proc(key_column="order_id"), client_db.system
    )
    assert result.status == "failed"
    assert "params.key_column: table 'tracking_events' has no column 'order_id'" in result.summary
    assert client_db.count() == 10 and not _folder(client_db).exists()


def test_it_skips_when_another_archive_run_holds_the_lock(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    with locks.procedure_lock(client_db.engine, "nordhafen/archive-tracking-events", clock):
        result = archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    assert result.status == "skipped"
    assert "another run of nordhafen/archive-tracking-events holds the lock since" in result.summary
    assert client_db.count() == 10


def test_it_keeps_nulls_and_empty_strings_apart_in_csv(client_db, make_ctx, clock):
    with client_db.engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE notes (id integer primary key, body varchar(20), at timestamp)")
        )
        conn.execute(
            text("INSERT INTO notes VALUES (1, NULL, :t), (2, '', :t), (3, 'a,\"b\"\n', :t)"),
            {"t": clock.now().replace(tzinfo=None).replace(year=2020)},
        )
    proc = archive_proc(table="notes", age_column="at", format="csv", compression="zstd")
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    table = archive_restore.into_table(client_db.engine, "notes")
    archive_restore.restore(
        client_db.engine, table, archive_restore.manifests_of(_folder(client_db))
    )
    with client_db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, body FROM notes ORDER BY id")).all() == [
            (1, None),
            (2, ""),
            (3, 'a,"b"\n'),
        ]


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_round_trips_every_common_column_type(client_db, make_ctx, clock, fmt, compression):
    from datetime import date
    from decimal import Decimal

    from sqlalchemy import (
        JSON,
        Boolean,
        Column,
        Date,
        DateTime,
        Float,
        Integer,
        LargeBinary,
        Numeric,
        Text,
    )

    table = Table(
        "mixed",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("amount", Numeric(10, 2)),
        Column("ok", Boolean),
        Column("blob", LargeBinary),
        Column("day", Date),
        Column("note", Text),
        Column("ratio", Float),
        Column("extra", JSON),
        Column("at", DateTime(timezone=True), nullable=False),
    )
    table.create(client_db.engine)
    old = clock.now().replace(year=2020)
    rows = [
        {
            "id": 1, "amount": Decimal("12.50"), "ok": True, "blob": b"\x00\x01\xff",
            "day": date(2020, 2, 29), "note": 'Grüße, "Hamburg"\nline 2', "ratio": 0.25,
            "extra": {"a": [1, 2]}, "at": old,
        },
        {
            "id": 2, "amount": None, "ok": False, "blob": None, "day": None, "note": "",
            "ratio": None, "extra": None, "at": old,
        },
    ]  # fmt: skip
    with client_db.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    proc = archive_proc(table="mixed", age_column="at", format=fmt, compression=compression)
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert client_db.count("mixed") == 0
    into = archive_restore.into_table(client_db.engine, "mixed")
    archive_restore.restore(
        client_db.engine, into, archive_restore.manifests_of(_folder(client_db))
    )
    with client_db.engine.connect() as conn:
        back = [dict(r._mapping) for r in conn.execute(select(into).order_by(into.c.id))]
    for got, want in zip(back, rows, strict=True):
        got["at"] = got["at"].replace(tzinfo=None) if got["at"].tzinfo is None else got["at"]
        assert {k: v for k, v in got.items() if k != "at"} == {
            k: v for k, v in want.items() if k != "at"
        }


def test_it_redoes_a_batch_whose_manifest_outlived_its_file(
    client_db, make_ctx, clock, monkeypatch
):
    """A kill before the directory fsync may keep the manifest's rename but not the file's."""
    client_db.fill(clock.now(), old=50, new=0)

    def stop(name: str) -> None:
        if name == "after_manifest":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)
    with pytest.raises(KeyboardInterrupt):
        archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    monkeypatch.setattr(archive, "step_hook", None)
    (data,) = [p for p in _folder(client_db).iterdir() if p.name.endswith(".gz")]
    data.unlink()
    result = archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["recovered_rows"] == 0
    assert sorted(_archived_ids(_folder(client_db))) == list(range(1, 51))
    assert client_db.count() == 0


def test_it_never_deletes_a_row_that_entered_the_key_range_after_the_export(
    client_db, make_ctx, clock, monkeypatch
):
    table = client_db.fill(clock.now(), old=40, new=0)
    with client_db.engine.begin() as conn:
        gap = conn.execute(select(table).where(table.c.id == 5)).one()._asdict()
        conn.execute(table.delete().where(table.c.id == 5))

    def sneak_in(name: str) -> None:
        if name == "after_manifest":
            with client_db.engine.begin() as conn:
                conn.execute(table.insert(), [gap])

    monkeypatch.setattr(archive, "step_hook", sneak_in)
    result = archive.run(make_ctx("archive-tracking-events"), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 39
    assert client_db.ids() == {5}  # not in any archive, so still here
    assert 5 not in _archived_ids(_folder(client_db))


def test_it_refuses_a_key_column_that_is_not_unique(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    result = archive.run(
        make_ctx("archive-tracking-events"), archive_proc(key_column="truck"), client_db.system
    )
    assert result.status == "failed"
    assert "params.key_column: 'truck' is not unique in 'tracking_events'" in result.summary
    assert client_db.count() == 10 and not _folder(client_db).exists()
