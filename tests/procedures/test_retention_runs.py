"""Purge and archive with retentions as the law states them, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Column, Date, Integer, MetaData, Table

from opsbinder.clock import FrozenClock
from opsbinder.procedures import archive, purge
from tests.procedures.conftest import archive_proc, purge_proc


def test_it_purges_whole_calendar_years_on_both_backends(
    client_db, make_ctx, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    """A DATE column: rows of 2015 go on 1 January 2026 in Berlin, rows of 2016 stay all year."""
    table = Table("receipts", MetaData(), Column("id", Integer, primary_key=True),
                  Column("issued_on", Date, nullable=False))  # fmt: skip
    table.create(client_db.engine)
    days = [date(2014, 6, 1), date(2015, 1, 1), date(2015, 12, 31), date(2016, 1, 1),
            date(2016, 12, 31), date(2025, 12, 31)]  # fmt: skip
    with client_db.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": n, "issued_on": d} for n, d in enumerate(days, 1)])
    proc = purge_proc(table="receipts", age_column="issued_on", retention_days=None,
                      retention="10 years from the end of the year")  # fmt: skip
    clock.set(datetime(2025, 12, 31, 22, 59, tzinfo=UTC))  # 23:59 in Berlin: 2015 still kept
    result = purge.run(make_ctx(timezone="Europe/Berlin"), proc, client_db.system)
    assert result.metrics["rows_deleted"] == 1  # only 2014
    clock.set(datetime(2025, 12, 31, 23, 0, tzinfo=UTC))  # midnight in Berlin
    result = purge.run(make_ctx(timezone="Europe/Berlin"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 2  # 1 January and 31 December 2015
    assert result.metrics["cutoff"] == "2015-12-31T23:00:00+00:00"
    assert client_db.ids("receipts") == {4, 5, 6}
    # a DATE column measured in its own terms: 1 January 2016 is the oldest left, none older
    assert result.metrics["oldest_remaining"] == "2016-01-01"
    assert result.metrics["oldest_remaining_age_days"] == 3652.0  # to 31 December 2025 (UTC)
    assert result.metrics["older_than_cutoff_left"] is False


def test_it_archives_rows_older_than_a_period_in_months(client_db, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    client_db.fill(clock.now(), old=30, new=10)  # old rows are 91+ days back, new ones hours
    proc = archive_proc(older_than_days=None, older_than="3 months")  # 2025-12-20 11:00 in Berlin
    result = archive.run(
        make_ctx("archive-tracking-events", timezone="Europe/Berlin"), proc, client_db.system
    )
    assert result.status == "ok", result.findings
    assert result.metrics["cutoff"] == "2025-12-20T10:00:00+00:00"
    assert result.metrics["rows_archived"] == 30 and client_db.count() == 10
    assert result.metrics["older_than_cutoff_left"] is False
    assert result.metrics["oldest_remaining"] == (clock.now() - timedelta(hours=10)).isoformat()
    assert clock.now() - timedelta(days=91) < datetime(2025, 12, 20, 10, tzinfo=UTC)
