"""What archive must do between writing a file and deleting its rows (SQLite and PostgreSQL):
read the file back and refuse a damaged one, make file, manifest and folder durable first,
delete only rows still older than the cutoff, and never a row at the cutoff itself."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Column, Date, Integer, MetaData, String, Table, select, update

from opsbinder.procedures import archive, archive_files
from tests.procedures.conftest import archive_proc

PROC = "archive-tracking-events"


def _folder(db) -> Path:
    return db.tmp / "archive" / "nordhafen" / "tms-db" / PROC


def _archived_ids(folder: Path) -> list[int]:
    return [
        int(r["id"])
        for m in archive_files.manifests_in(folder)
        for r in archive_files.read_verified(m)
    ]


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("instant", ["after_write", "after_fsync"])
def test_it_deletes_nothing_when_the_file_is_damaged_before_its_manifest(
    client_db, make_ctx, clock, monkeypatch, instant
):
    """The read-back check is what stands between a damaged file and deleted rows."""
    client_db.fill(clock.now(), old=30, new=0)
    damaged: list[Path] = []

    def damage_the_new_file(name: str) -> None:
        if name == instant and not damaged:
            suffix = archive_files.PART_SUFFIX if instant == "after_write" else ".gz"
            (path,) = [p for p in _folder(client_db).iterdir() if p.name.endswith(suffix)]
            _damage(path)
            damaged.append(path)

    monkeypatch.setattr(archive, "step_hook", damage_the_new_file)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert damaged  # the setup did damage the file at that instant
    assert result.status == "failed"
    assert "does not match the manifest's" in result.summary
    assert client_db.count() == 30 and result.metrics["rows_deleted"] == 0
    assert not list(_folder(client_db).glob("*" + archive_files.MANIFEST_SUFFIX))

    monkeypatch.setattr(archive, "step_hook", None)
    again = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert again.status == "ok", again.findings
    assert sorted(_archived_ids(_folder(client_db))) == list(range(1, 31))
    assert client_db.count() == 0


def test_it_makes_file_manifest_and_folder_durable_before_deleting_a_row(
    client_db, make_ctx, clock, monkeypatch
):
    client_db.fill(clock.now(), old=30, new=0)
    events: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(archive_files.os, "fsync", fsync)
    monkeypatch.setattr(archive, "step_hook", lambda name: events.append(name))
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    folder = _folder(client_db).resolve()
    data = f"{folder}/tracking_events.{1:020d}-{30:020d}.jsonl.gz"
    before_delete = events[: events.index("mid_delete")]
    fsynced = [e.removeprefix("fsync ") for e in before_delete if e.startswith("fsync ")]
    assert fsynced == [
        data + archive_files.PART_SUFFIX,
        data + archive_files.MANIFEST_SUFFIX + archive_files.PART_SUFFIX,
        str(folder),
    ]
    # the data file is fsynced before anything is read back or a manifest written
    assert before_delete.index("fsync " + fsynced[0]) < before_delete.index("after_fsync")


def test_it_never_deletes_a_row_that_became_young_after_the_export(
    client_db, make_ctx, clock, monkeypatch
):
    table = client_db.fill(clock.now(), old=40, new=0)

    def touch_row_5(name: str) -> None:
        if name == "after_manifest":
            with client_db.engine.begin() as conn:
                conn.execute(update(table).where(table.c.id == 5).values(recorded_at=clock.now()))

    monkeypatch.setattr(archive, "step_hook", touch_row_5)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert 5 in _archived_ids(_folder(client_db))  # exported before it changed
    assert client_db.ids() == {5} and result.metrics["rows_deleted"] == 39


def test_it_keeps_a_row_exactly_at_the_cutoff(client_db, make_ctx, clock):
    table = client_db.fill(clock.now(), old=0, new=0)
    cutoff = clock.now() - timedelta(days=90)
    tick = timedelta(microseconds=1)
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": 1, "truck": "before", "recorded_at": cutoff - tick},
                {"id": 2, "truck": "at", "recorded_at": cutoff},
                {"id": 3, "truck": "after", "recorded_at": cutoff + tick},
            ],
        )
    dry = archive.run(make_ctx(PROC, dry_run=True), archive_proc(), client_db.system)
    assert dry.metrics["planned_rows"] == 1
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    assert _archived_ids(_folder(client_db)) == [1]
    assert client_db.ids() == {2, 3}


def test_it_keeps_the_whole_day_of_the_cutoff_on_a_date_column(client_db, make_ctx, clock):
    table = Table(
        "daily",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("note", String(8)),
        Column("day", Date, nullable=False),
    )
    table.create(client_db.engine)
    day = (clock.now() - timedelta(days=90)).date()
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": 1, "note": "before", "day": day - timedelta(days=1)},
                {"id": 2, "note": "at", "day": day},
                {"id": 3, "note": "after", "day": day + timedelta(days=1)},
            ],
        )
    proc = archive_proc(table="daily", age_column="day", format="csv", compression="zstd")
    dry = archive.run(make_ctx(PROC, dry_run=True), proc, client_db.system)
    assert dry.metrics["planned_rows"] == 1
    result = archive.run(make_ctx(PROC), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert _archived_ids(_folder(client_db)) == [1]
    with client_db.engine.connect() as conn:
        left = dict(conn.execute(select(table.c.id, table.c.day)).all())
    assert left == {2: day, 3: day + timedelta(days=1)}
    assert isinstance(left[2], date)


def test_it_never_deletes_a_row_whose_key_the_archive_table_already_holds(
    client_db, make_ctx, clock
):
    """Rows put back from the archive table and changed since: deleting the source row because
    its key is archived would lose the change."""
    client_db.fill(clock.now(), old=30, new=0)
    proc = archive_proc(
        destination="tracking_events_archive", destination_type="table", batch_size=10
    )
    first = archive.run(make_ctx(PROC), proc, client_db.system)
    assert first.status == "ok" and client_db.count() == 0
    moved = Table("tracking_events_archive", MetaData(), autoload_with=client_db.engine)
    source = Table("tracking_events", MetaData(), autoload_with=client_db.engine)
    with client_db.engine.begin() as conn:  # put rows 4 and 17 back, and change one
        back = conn.execute(select(moved).where(moved.c.id.in_([4, 17]))).mappings().all()
        conn.execute(source.insert(), [dict(r) for r in back])
        conn.execute(update(source).where(source.c.id == 17).values(truck="changed"))
    with client_db.engine.begin() as conn:
        conn.execute(
            source.insert(),
            [
                {"id": 100 + i, "truck": "new old", "recorded_at": back[0]["recorded_at"]}
                for i in (1, 2)
            ],
        )

    again = archive.run(make_ctx(PROC), proc, client_db.system)
    assert again.status == "failed"
    assert again.metrics["keys_already_archived"] == 2
    assert again.summary.startswith("2 rows were left in tracking_events: their keys are already")
    assert client_db.ids() == {4, 17}  # neither was deleted
    with client_db.engine.connect() as conn:
        assert conn.execute(select(source.c.truck).where(source.c.id == 17)).scalar() == "changed"
    assert client_db.ids("tracking_events_archive") == set(range(1, 31)) | {101, 102}


def test_it_finishes_an_interrupted_batch_by_the_cutoff_it_was_archived_under(
    client_db, make_ctx, clock, monkeypatch
):
    """Retention lengthened after a killed run: the rows its manifest holds are deleted all
    the same; left in the source they would be archived a second time once old enough."""
    client_db.fill(clock.now(), old=60, new=0)  # 91 to 112 days old

    def stop(name: str) -> None:
        if name == "after_manifest":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)
    with pytest.raises(KeyboardInterrupt):
        archive.run(make_ctx(PROC), archive_proc(batch_size=25), client_db.system)
    monkeypatch.setattr(archive, "step_hook", None)
    assert client_db.count() == 60 and len(_archived_ids(_folder(client_db))) == 25

    longer = archive_proc(batch_size=25, older_than_days=200)
    result = archive.run(make_ctx(PROC), longer, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["recovered_rows"] == 25 and result.metrics["rows_archived"] == 0
    assert client_db.ids() == set(range(26, 61))
    assert sorted(_archived_ids(_folder(client_db))) == list(range(1, 26))


def test_it_rolls_back_a_table_move_when_a_row_changed_between_copy_and_delete(
    client_db, make_ctx, clock, monkeypatch
):
    if client_db.backend != "postgresql":
        pytest.skip("SQLite lets no other writer in while the move's transaction is open")
    table = client_db.fill(clock.now(), old=20, new=0)

    def touch_row_5(name: str) -> None:
        if name == "after_copy":
            with client_db.engine.begin() as conn:
                conn.execute(update(table).where(table.c.id == 5).values(recorded_at=clock.now()))

    monkeypatch.setattr(archive, "step_hook", touch_row_5)
    proc = archive_proc(destination="tracking_events_archive", destination_type="table")
    result = archive.run(make_ctx(PROC), proc, client_db.system)
    assert result.status == "failed"
    assert "copied 20 rows but deleted 19 (rows changed meanwhile); it was rolled back" in (
        result.summary
    )
    assert client_db.count() == 20 and client_db.count("tracking_events_archive") == 0

    monkeypatch.setattr(archive, "step_hook", None)
    again = archive.run(make_ctx(PROC), proc, client_db.system)
    assert again.status == "ok" and client_db.ids() == {5}
    assert client_db.ids("tracking_events_archive") == set(range(1, 21)) - {5}


def test_it_finishes_a_batch_killed_with_only_its_last_key_left(
    client_db, make_ctx, clock, monkeypatch
):
    client_db.fill(clock.now(), old=40, new=0)
    monkeypatch.setattr(archive, "DELETE_CHUNK", 24)

    def stop(name: str) -> None:
        if name == "mid_delete":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)
    with pytest.raises(KeyboardInterrupt):
        archive.run(make_ctx(PROC), archive_proc(batch_size=25), client_db.system)
    monkeypatch.setattr(archive, "step_hook", None)
    assert client_db.ids() == set(range(25, 41))  # of the first file's keys, only 25 is left

    result = archive.run(make_ctx(PROC), archive_proc(batch_size=25), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["recovered_rows"] == 1
    ids = _archived_ids(_folder(client_db))
    assert sorted(ids) == list(range(1, 41))  # each once
    assert client_db.count() == 0
