"""Expired partitions of a PostgreSQL range-partitioned table are detached and dropped whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from opsbinder.config.models import DatabaseSystem
from opsbinder.procedures import purge
from tests.procedures.conftest import purge_proc
from tests.support import pg

PARENT = text(
    "CREATE TABLE tracking_events (id bigint, truck text NOT NULL, "
    "recorded_at timestamptz NOT NULL, PRIMARY KEY (id, recorded_at)) "
    "PARTITION BY RANGE (recorded_at)"
)
MONTHS = ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]


@pytest.fixture
def partitioned(client_db):
    if client_db.backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    with client_db.engine.begin() as conn:
        conn.execute(PARENT)
        for start, end in zip(MONTHS, [*MONTHS[1:], "2026-05"], strict=True):
            conn.execute(
                text(
                    f'CREATE TABLE "te_{start}" PARTITION OF tracking_events '
                    f"FOR VALUES FROM ('{start}-01 00:00+00') TO ('{end}-01 00:00+00')"
                )
            )
        conn.execute(text("CREATE TABLE te_default PARTITION OF tracking_events DEFAULT"))
        conn.execute(text("CREATE INDEX ON tracking_events (recorded_at)"))
        # one row every 12 hours from 2025-10-01 to 2026-03-20, and a few in the default one
        conn.execute(
            text(
                "INSERT INTO tracking_events SELECT row_number() OVER (), 'T', t FROM "
                "generate_series(timestamptz '2025-10-01 06:00+00', timestamptz '2026-03-20 06:00+00', "
                "interval '12 hours') t"
            )
        )
        conn.execute(text("INSERT INTO tracking_events VALUES (100000, 'old', '2020-01-01+00')"))
    return client_db


def _partitions(client_db):
    with client_db.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'tracking_events'::regclass"
                )
            ).scalars()
        )


def test_it_drops_expired_partitions_whole_and_purges_the_rest(partitioned, make_ctx, clock):
    cutoff = clock.now() - timedelta(days=90)
    with partitioned.engine.connect() as conn:
        expected = conn.execute(
            text("SELECT count(*) FROM tracking_events WHERE recorded_at < :c"), {"c": cutoff}
        ).scalar_one()
        kept = conn.execute(
            text("SELECT count(*) FROM tracking_events WHERE recorded_at >= :c"), {"c": cutoff}
        ).scalar_one()
    dry = purge.run(make_ctx(dry_run=True), purge_proc(batch_size=10), partitioned.system)
    assert dry.metrics["partitions_to_drop"] == 2
    assert dry.metrics["planned_rows"] == expected
    assert len(_partitions(partitioned)) == 8

    result = purge.run(make_ctx(), purge_proc(batch_size=10), partitioned.system)

    assert result.status == "ok", result.findings
    assert result.metrics["partitions_dropped"] == 2
    assert sorted(result.metrics["partitions"]) == ["te_2025-10", "te_2025-11"]
    assert result.metrics["rows_deleted"] == expected
    assert '"te_2025-10"' not in _partitions(partitioned)
    assert '"te_2025-12"' in _partitions(partitioned)
    with partitioned.engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass('\"te_2025-10\"')")).scalar() is None
        left = conn.execute(text("SELECT count(*) FROM tracking_events")).scalar_one()
        oldest = conn.execute(text("SELECT min(recorded_at) FROM tracking_events")).scalar_one()
    assert left == kept
    assert oldest >= cutoff
    # 2025-12-01 .. cutoff (2025-12-20 10:00) went in batches, plus the one 2020 row in default
    assert result.metrics["batches"] >= 4


def test_it_leaves_partitions_alone_when_drop_partitions_is_off(partitioned, make_ctx, clock):
    result = purge.run(
        make_ctx(), purge_proc(batch_size=500, drop_partitions=False), partitioned.system
    )
    assert result.status == "ok"
    assert result.metrics["partitions_dropped"] == 0
    assert len(_partitions(partitioned)) == 8
    with partitioned.engine.connect() as conn:
        assert conn.execute(text('SELECT count(*) FROM "te_2025-10"')).scalar_one() == 0


def test_it_does_not_treat_a_table_partitioned_on_another_column_as_expired(
    make_ctx, clock, backend
):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    url = pg.create_database("target")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE tracking_events (id bigint, truck text NOT NULL, "
                "recorded_at timestamptz NOT NULL) PARTITION BY LIST (truck)"
            )
        )
        conn.execute(text("CREATE TABLE te_a PARTITION OF tracking_events FOR VALUES IN ('A')"))
        conn.execute(text("CREATE TABLE te_b PARTITION OF tracking_events FOR VALUES IN ('B')"))
        conn.execute(
            text("INSERT INTO tracking_events VALUES (1,'A',:old),(1,'B',:old),(2,'B',:new)"),
            {"old": datetime(2020, 1, 1, tzinfo=UTC), "new": clock.now()},
        )
    ctx = make_ctx()
    ctx.environ = {**ctx.environ, "CLIENT_DB_URL": url}
    system = DatabaseSystem(id="tms-db", type="database", url_env="CLIENT_DB_URL")
    result = purge.run(ctx, purge_proc(batch_size=1), system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 2 and result.metrics["partitions_dropped"] == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, truck FROM tracking_events")).all() == [(2, "B")]
    engine.dispose()


def _partitioned_at_the_cutoff(client_db, cutoff: datetime, names: list[str]) -> None:
    """Three partitions: [cutoff - 60d, cutoff - 30d), [cutoff - 30d, cutoff) and
    [cutoff, cutoff + 1 µs), named `names`, each holding rows up to its upper bound."""
    bounds = [cutoff - timedelta(days=60), cutoff - timedelta(days=30), cutoff]
    bounds.append(cutoff + timedelta(microseconds=1))
    quote = client_db.engine.dialect.identifier_preparer.quote
    with client_db.engine.begin() as conn:
        conn.execute(PARENT)
        for name, lower, upper in zip(names, bounds, bounds[1:], strict=False):
            conn.exec_driver_sql(
                f"CREATE TABLE {quote(name)} PARTITION OF tracking_events FOR VALUES "
                f"FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
            )
        conn.execute(
            text("INSERT INTO tracking_events VALUES (1, 'a', :a), (2, 'b', :b), (3, 'at', :c)"),
            {"a": bounds[0], "b": cutoff - timedelta(microseconds=1), "c": cutoff},
        )


def test_it_drops_partitions_whose_names_hold_colons_percents_and_quotes(
    client_db, make_ctx, clock, backend
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    cutoff = clock.now() - timedelta(days=90)
    names = ["te:x", "100% 'old' \"te\"", "te_at_cutoff"]
    _partitioned_at_the_cutoff(client_db, cutoff, names)

    dry = purge.run(make_ctx(dry_run=True), purge_proc(), client_db.system)
    assert dry.metrics["partitions_to_drop"] == 2 and dry.metrics["planned_rows"] == 2
    result = purge.run(make_ctx(), purge_proc(), client_db.system)

    assert result.status == "ok", result.findings
    assert sorted(result.metrics["partitions"]) == sorted(names[:2])
    assert result.metrics["rows_deleted"] == 2
    with client_db.engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM tracking_events")).scalars().all() == [3]
        left = conn.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:n)"), {"n": names}
        ).scalars()
        assert list(left) == ["te_at_cutoff"]  # holds the row exactly at the cutoff
