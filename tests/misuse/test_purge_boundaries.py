"""The retention boundary (SQLite and PostgreSQL): a row exactly at the cutoff, and the whole
day of the cutoff on a DATE column, are kept; the dry run, the plan guard and the real run all
count the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, Date, DateTime, Integer, MetaData, String, Table, select

from opsbinder.procedures import purge
from tests.procedures.conftest import purge_proc

TICK = timedelta(microseconds=1)


def _table(db, age_type) -> Table:  # type: ignore[no-untyped-def]
    table = Table(
        "tracking_events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("truck", String(16), nullable=False),
        Column("recorded_at", age_type, nullable=False, index=True),
    )
    table.create(db.engine)
    return table


def _left(db, table: Table) -> dict[int, str]:
    with db.engine.connect() as conn:
        return dict(conn.execute(select(table.c.id, table.c.truck)).all())


@pytest.mark.parametrize("timezone", [True, False], ids=["timestamptz", "naive-utc"])
def test_it_keeps_a_row_exactly_at_the_cutoff(client_db, make_ctx, clock, timezone):
    table = _table(client_db, DateTime(timezone=timezone))
    cutoff = clock.now() - timedelta(days=90)
    if not timezone:
        cutoff = cutoff.replace(tzinfo=None)
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": 1, "truck": "older", "recorded_at": cutoff - timedelta(days=3)},
                {"id": 2, "truck": "just before", "recorded_at": cutoff - TICK},
                {"id": 3, "truck": "at", "recorded_at": cutoff},
                {"id": 4, "truck": "just after", "recorded_at": cutoff + TICK},
            ],
        )
    # max_rows is exactly the expired count: a count that took the boundary row along would
    # make the dry run warn and the real run refuse
    proc = purge_proc(max_rows=2, batch_size=1)
    dry = purge.run(make_ctx(dry_run=True), proc, client_db.system)
    assert dry.metrics["planned_rows"] == 2
    assert "would delete 2 rows" in dry.summary and "would refuse" not in dry.summary
    result = purge.run(make_ctx(), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == result.metrics["planned_rows"] == 2
    assert _left(client_db, table) == {3: "at", 4: "just after"}


def test_it_refuses_in_the_dry_run_exactly_what_the_real_run_refuses(client_db, make_ctx, clock):
    table = _table(client_db, DateTime(timezone=True))
    cutoff = clock.now() - timedelta(days=90)
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": i, "truck": "T", "recorded_at": cutoff - TICK * (2 - i)}
                for i in range(0, 4)  # two just before the cutoff, one at it, one after
            ],
        )
    proc = purge_proc(max_rows=1)
    dry = purge.run(make_ctx(dry_run=True), proc, client_db.system)
    assert "the plan guard would refuse: planned 2 rows > max_rows 1" in dry.summary
    refused = purge.run(make_ctx(), proc, client_db.system)
    assert refused.findings == [
        "plan guard refused: planned 2 rows > max_rows 1; re-run with --approve"
    ]
    assert client_db.count() == 4


def test_it_keeps_the_whole_day_of_the_cutoff_on_a_date_column(client_db, make_ctx, clock):
    table = _table(client_db, Date)
    day = (clock.now() - timedelta(days=90)).date()
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": 1, "truck": "day before", "recorded_at": day - timedelta(days=1)},
                {"id": 2, "truck": "cutoff day", "recorded_at": day},
                {"id": 3, "truck": "day after", "recorded_at": day + timedelta(days=1)},
            ],
        )
    proc = purge_proc(max_rows=1)
    dry = purge.run(make_ctx(dry_run=True), proc, client_db.system)
    assert dry.metrics["planned_rows"] == 1 and "would refuse" not in dry.summary
    result = purge.run(make_ctx(), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 1
    assert _left(client_db, table) == {2: "cutoff day", 3: "day after"}
