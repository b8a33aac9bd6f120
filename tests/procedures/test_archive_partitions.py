"""`partitions: whole`: expired range partitions of a PostgreSQL table are detached, exported,
verified and dropped; the rest of the expired rows are archived by key, as always."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import text

from opsbinder.errors import Refused
from opsbinder.procedures import archive, archive_files, archive_restore
from tests.procedures.conftest import archive_proc

EXPIRED = ["receipts_2025_09", "receipts_2025_10", "receipts_2025_11"]


def _folder(client_db) -> Path:
    return client_db.tmp / "archive" / "nordhafen" / "tms-db" / "archive-tracking-events"


def _whole(**params):
    return archive_proc(
        table="receipts",
        age_column="sold_at",
        key_column=["receipt_id", "sold_at"],
        partitions="whole",
        **params,
    )


def _tables(client_db) -> list[str]:
    with client_db.engine.connect() as conn:
        return sorted(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'receipts%'")
            ).scalars()
        )


@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_detaches_archives_and_drops_whole_expired_partitions(
    client_db, make_ctx, clock, backend, fmt, compression
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=300, new=20, partitioned=True)
    before = client_db.receipts()
    ctx = make_ctx("archive-tracking-events")
    result = archive.run(ctx, _whole(format=fmt, compression=compression), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["partitions"] == EXPIRED
    assert result.metrics["rows_archived"] == result.metrics["rows_deleted"] == 300
    assert "3 whole partitions" in result.summary
    assert not set(EXPIRED) & set(_tables(client_db))
    assert "receipts_2025_12" in _tables(client_db)  # not wholly expired: archived by key
    assert len(client_db.receipts()) == 20
    folder = _folder(client_db)
    whole = [m for m in archive_files.manifests_in(folder) if "partition" in m.body]
    assert sorted(m.body["partition"]["name"] for m in whole) == EXPIRED
    assert not list(folder.glob("*.detach.json"))

    # restore: the partitions are created again first (PostgreSQL routes rows to them)
    with client_db.engine.begin() as conn:
        for name, lo, hi in [(EXPIRED[0], "2025-09-01", "2025-10-01"),
                             (EXPIRED[1], "2025-10-01", "2025-11-01"),
                             (EXPIRED[2], "2025-11-01", "2025-12-01")]:  # fmt: skip
            conn.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF receipts FOR VALUES FROM ('{lo}') TO ('{hi}')"
                )
            )
    table = archive_restore.into_table(client_db.engine, "receipts")
    done = archive_restore.restore(client_db.engine, table, archive_restore.manifests_of(folder))
    assert (done.rows_restored, done.rows_skipped) == (300, 0)
    assert client_db.receipts() == before


def test_a_dry_run_names_the_partitions_it_would_detach(client_db, make_ctx, clock, backend):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=300, new=20, partitioned=True)
    ctx = make_ctx("archive-tracking-events", dry_run=True)
    result = archive.run(ctx, _whole(), client_db.system)
    assert result.status == "ok"
    assert result.summary == (
        f"dry run: would archive 300 rows of receipts older than 2025-12-20 to {_folder(client_db)}"
        ", deleting them by key (receipt_id, sold_at); whole partitions detached, archived and "
        "dropped: receipts_2025_09, receipts_2025_10, receipts_2025_11"
    )
    assert len(client_db.receipts()) == 320 and set(EXPIRED) <= set(_tables(client_db))


def test_it_refuses_whole_partitions_of_a_table_not_range_partitioned(client_db, make_ctx, clock):
    client_db.fill_receipts(clock.now(), old=10, new=0, partitioned=False)
    result = archive.run(make_ctx("archive-tracking-events"), _whole(), client_db.system)
    assert result.status == "failed"
    assert result.summary == (
        "nordhafen/archive-tracking-events: params.partitions: whole needs a PostgreSQL table "
        "range-partitioned on 'sold_at', and 'receipts' is not one (declarative partitioning "
        "is a PostgreSQL feature)"
    )
    assert len(client_db.receipts()) == 10 and not _folder(client_db).exists()


def test_a_whole_partition_goes_to_disk_in_bounded_memory(client_db, make_ctx, clock, backend):
    """200,000 rows, some 45 MB as exported, archived with a peak of Python allocations of a
    few MB: the partition is streamed through the compressor, never held (it was, before)."""
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=0, new=1, partitioned=True)
    with client_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO receipts SELECT g, repeat(md5(g::text), 6), "
                "'2025-10-01'::timestamptz + g * interval '10 seconds' "
                "FROM generate_series(1, 200000) g"
            )
        )
        exported = conn.execute(text("SELECT sum(length(row_to_json(r)::text)) FROM receipts r"))
        assert exported.scalar_one() > 40_000_000
    tracemalloc.start()
    try:
        result = archive.run(make_ctx("archive-tracking-events"), _whole(), client_db.system)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.status == "ok", result.findings
    assert result.metrics["partitions"] == EXPIRED  # 09 and 11 empty
    assert result.metrics["rows_archived"] == result.metrics["rows_deleted"] == 200_000
    assert peak < 8_000_000, f"peak Python allocation {peak:,} bytes"
    (manifest,) = [m for m in archive_files.manifests_in(_folder(client_db)) if m.body["rows"]]
    archive_files.verified_payload(manifest)  # the streamed file is what a batch reader reads


def test_a_restore_refuses_a_partition_that_exists_but_is_not_attached(
    client_db, make_ctx, clock, backend
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=300, new=20, partitioned=True)
    result = archive.run(make_ctx("archive-tracking-events"), _whole(), client_db.system)
    assert result.metrics["partitions"] == EXPIRED
    with client_db.engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {EXPIRED[0]} (LIKE receipts)"))
    table = archive_restore.into_table(client_db.engine, "receipts")
    with pytest.raises(Refused) as refused:
        archive_restore.restore(
            client_db.engine, table, archive_restore.manifests_of(_folder(client_db))
        )
    assert str(refused.value) == (
        f"partition public.{EXPIRED[0]} of receipts exists but is not attached; attach it "
        f"first: ALTER TABLE receipts ATTACH PARTITION public.{EXPIRED[0]} FOR VALUES FROM "
        "('2025-09-01 00:00:00+00') TO ('2025-10-01 00:00:00+00');"
    )
    assert len(client_db.receipts()) == 20
