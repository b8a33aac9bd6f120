"""Purge by ranges of blocks (PostgreSQL): which rows go never depends on where they sit in the
table -- shuffled rows, rows written meanwhile into blocks already passed, rows appended after
the run began."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import MetaData, Table, text

from opsbinder.procedures import purge, purge_blocks
from tests.procedures.conftest import events_table, purge_proc

OLD, NEW = 3000, 3000


@pytest.fixture
def shuffled(client_db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch) -> Table:
    """OLD expired and NEW recent rows in random physical order, half of each block free (so an
    update can leave a row's new version in its block), with statistics."""
    if client_db.backend != "postgresql":
        pytest.skip("blocks (Tid Range Scan) are PostgreSQL's; SQLite deletes by the age index")
    monkeypatch.setattr(purge_blocks, "BLOCKS_FROM", 0)  # instead of filling 8 MB
    table = events_table(MetaData())
    table.create(client_db.engine)
    now = clock.now()
    rows = [
        {"id": i, "truck": "old", "recorded_at": now - timedelta(days=91, minutes=i)}
        for i in range(1, OLD + 1)
    ] + [
        {"id": OLD + i, "truck": "new", "recorded_at": now - timedelta(minutes=i)}
        for i in range(1, NEW + 1)
    ]
    random.Random(16).shuffle(rows)
    with client_db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE tracking_events SET (fillfactor = 50)"))
        conn.execute(table.insert(), rows)
    with client_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE tracking_events"))
    return table


def _block(client_db: Any, row_id: int) -> int:
    with client_db.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT (ctid::text::point)[0] FROM tracking_events WHERE id = :id"),
                {"id": row_id},
            ).scalar_one()
        )


def test_it_deletes_shuffled_rows_by_blocks_and_only_the_expired_ones(
    client_db, make_ctx, shuffled
) -> None:  # type: ignore[no-untyped-def]
    result = purge.run(make_ctx(), purge_proc(batch_size=200), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["batches_by"] == "blocks"
    assert result.metrics["rows_deleted"] == OLD
    assert result.metrics["batches"] > 10
    assert client_db.ids() == set(range(OLD + 1, OLD + NEW + 1))
    assert result.metrics["older_than_cutoff_left"] is False


def test_it_deletes_rows_written_meanwhile_behind_and_ahead_of_the_batches(
    client_db, make_ctx, clock, shuffled
) -> None:  # type: ignore[no-untyped-def]
    old = clock.now() - timedelta(days=200)
    with client_db.engine.connect() as conn:
        first_new = conn.execute(
            text("SELECT min(id) FROM tracking_events WHERE ctid < '(1,0)' AND truck = 'new'")
        ).scalar_one()
    written: list[int] = []

    def meanwhile(done: int, _total: int | None, _msg: str) -> None:
        if written:
            return
        # after the first batch (block 0 and on): a recent row in block 0 is changed to an old
        # one, whose new version stays in block 0, already passed; and old rows are appended
        with client_db.engine.begin() as conn:
            conn.execute(
                text("UPDATE tracking_events SET recorded_at = :old WHERE id = :id"),
                {"old": old, "id": first_new},
            )
            conn.execute(
                text(
                    "INSERT INTO tracking_events SELECT g, 'late', :old "
                    "FROM generate_series(100001, 100500) g"
                ),
                {"old": old},
            )
        written.append(done)

    result = purge.run(make_ctx(progress=meanwhile), purge_proc(batch_size=200), client_db.system)
    assert written and result.status == "ok", result.findings
    assert result.metrics["batches_by"] == "blocks"
    assert result.metrics["rows_deleted"] == OLD + 1 + 500
    assert client_db.ids() == set(range(OLD + 1, OLD + NEW + 1)) - {first_new}
    assert result.metrics["older_than_cutoff_left"] is False


def test_the_changed_row_stays_in_a_block_the_batches_had_passed(
    client_db, clock, shuffled
) -> None:  # type: ignore[no-untyped-def]
    # what the test above relies on: an updated row keeps its block when the block has room
    with client_db.engine.connect() as conn:
        first_new = conn.execute(
            text("SELECT min(id) FROM tracking_events WHERE ctid < '(1,0)' AND truck = 'new'")
        ).scalar_one()
    with client_db.engine.begin() as conn:
        conn.execute(
            text("UPDATE tracking_events SET recorded_at = :old WHERE id = :id"),
            {"old": clock.now() - timedelta(days=200), "id": first_new},
        )
    assert _block(client_db, first_new) == 0


def test_a_batch_reads_only_its_blocks(client_db, clock, shuffled) -> None:  # type: ignore[no-untyped-def]
    cut = clock.now() - timedelta(days=90)
    statement = purge_blocks.batch(shuffled, shuffled.c.recorded_at < cut, 3, 7)
    compiled = statement.compile(dialect=client_db.engine.dialect)
    with client_db.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars().all()
    assert any("Tid Range Scan" in line for line in plan), plan
