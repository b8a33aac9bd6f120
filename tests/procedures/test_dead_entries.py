"""The walk behind a purge's deletes leaves the age index's entries of deleted rows marked dead,
so the run's own check of what is left (and the client's next query) does not visit the table
once per deleted row."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Table, text

from opsbinder.procedures.dead_entries import DeadEntries


def _heap_fetches(client_db: Any, name: str) -> int:
    """Rows the oldest-row lookup had to read from the table (not answered by the index)."""
    with client_db.engine.connect() as conn:
        plan = conn.execute(
            text(f"EXPLAIN (ANALYZE, FORMAT JSON) SELECT min(recorded_at) FROM {name}")
        ).scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def fetches(node: dict[str, Any]) -> int:
        own = int(node.get("Heap Fetches", 0))
        return own + sum(fetches(child) for child in node.get("Plans", []))

    return fetches(plan[0]["Plan"])


def _purged(client_db: Any, clock: Any, name: str) -> tuple[Table, Any, int]:
    """The table, the cutoff, and the deleting transaction's id."""
    table = client_db.fill(clock.now(), old=3000, new=50, name=name)
    with client_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {name}"))  # the live rows' pages all-visible
    cut = clock.now() - timedelta(days=90)
    with client_db.engine.begin() as conn:
        conn.execute(table.delete().where(table.c.recorded_at < cut))
        deleter = int(conn.execute(text("SELECT txid_current()")).scalar_one())
    return table, cut, deleter


def _wait_until_no_snapshot_predates(client_db: Any, deleter: int) -> None:
    """PostgreSQL marks an entry dead only once no transaction anywhere in the cluster could
    still see its row: a snapshot's xmin is the oldest transaction running in any database, so
    a long transaction of another test (the suite runs two at once) keeps the deleted rows
    visible to the walk. Wait (bounded) until every transaction older than the delete ended."""
    deadline = time.monotonic() + 60
    with client_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            oldest = conn.execute(text("SELECT txid_snapshot_xmin(txid_current_snapshot())"))
            if int(oldest.scalar_one()) > deleter:
                return
            time.sleep(0.1)
    pytest.fail(f"a transaction older than the purge ({deleter}) ran for 60 s")


@pytest.fixture
def purged_twice(client_db: Any, clock: Any) -> tuple[Table, Any]:
    """Two tables purged alike; the first, never walked, proves the setup: its oldest-row lookup
    visits the table once per deleted row. The second is returned to be walked."""
    if client_db.backend != "postgresql":
        pytest.skip("index entries marked dead are PostgreSQL's; SQLite deletes them at once")
    _purged(client_db, clock, "unwalked")
    assert _heap_fetches(client_db, "unwalked") >= 3000
    table, cut, deleter = _purged(client_db, clock, "walked")
    _wait_until_no_snapshot_predates(client_db, deleter)
    return table, cut


def test_walking_the_deleted_ranges_spares_the_next_reader_a_visit_per_row(
    client_db: Any, clock: Any, purged_twice: tuple[Table, Any]
) -> None:
    table, cut = purged_twice
    middle = clock.now() - timedelta(days=100)
    with DeadEntries(client_db.engine, table.c.recorded_at, cut) as behind:
        behind.deleted(None, middle)  # in two ranges, as batches are
        behind.deleted(middle, None)
    assert _heap_fetches(client_db, "walked") < 50


def test_a_range_of_ages_deleted_by_key_is_walked_from_its_oldest_row(
    client_db: Any, clock: Any, purged_twice: tuple[Table, Any]
) -> None:
    table, cut = purged_twice
    oldest = clock.now() - timedelta(days=91, hours=499, seconds=2999)  # as `fill` spreads them
    newest = clock.now() - timedelta(days=91)
    # archive knows the oldest and newest age it deleted, both included
    with DeadEntries(client_db.engine, table.c.recorded_at, cut) as behind:
        behind.deleted_between(oldest, newest)
    assert _heap_fetches(client_db, "walked") < 50


def test_a_walk_that_fails_leaves_the_purge_to_go_on(client_db: Any, clock: Any) -> None:
    table = client_db.fill(clock.now(), old=10, new=1, name="dropped_meanwhile")
    cut = clock.now() - timedelta(days=90)
    with DeadEntries(client_db.engine, table.c.recorded_at, cut) as behind:
        with client_db.engine.begin() as conn:
            conn.execute(text("DROP TABLE dropped_meanwhile"))
        behind.deleted(None, None)  # the walk's query fails: no table
        behind.deleted(None, None)  # later ranges are taken and dropped, and leaving returns


def test_a_sweep_walks_rows_deleted_wherever_they_sat(
    client_db: Any, clock: Any, purged_twice: tuple[Table, Any]
) -> None:
    table, cut = purged_twice
    # purge by blocks knows no ages: the sweep walks from the oldest entry to the first live row
    with DeadEntries(client_db.engine, table.c.recorded_at, cut) as behind:
        behind.swept()
        behind.swept()  # the second starts where the first found a live row (none: all gone)
    assert _heap_fetches(client_db, "walked") < 50
