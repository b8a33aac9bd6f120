"""A large purge plan comes from PostgreSQL's statistics instead of a count; a wrong estimate
never lets more rows go unapproved than the plan guard allows.

Large means at least plan_guard.EXACT_BELOW rows; the tests lower that bound instead of filling
a hundred thousand rows.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from opsbinder.procedures import plan_guard, purge
from tests.procedures.conftest import purge_proc


@pytest.fixture
def big(client_db, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if client_db.backend != "postgresql":
        pytest.skip("estimates come from PostgreSQL's planner; SQLite always counts")
    monkeypatch.setattr(plan_guard, "EXACT_BELOW", 0)
    return client_db


def _analyze(client_db) -> None:  # type: ignore[no-untyped-def]
    with client_db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE tracking_events"))


def test_it_deletes_an_estimated_plan_far_below_the_guard(big, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    big.fill(clock.now(), old=300, new=20)
    _analyze(big)
    result = purge.run(make_ctx(), purge_proc(max_rows=100_000, batch_size=64), big.system)
    assert result.status == "ok", result.findings
    assert result.metrics["planned_estimated"] is True
    assert result.metrics["rows_deleted"] == 300
    assert big.count() == 20


def test_it_counts_a_plan_whose_estimate_comes_near_the_guard(big, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    big.fill(clock.now(), old=300, new=20)
    _analyze(big)
    refused = purge.run(make_ctx(), purge_proc(max_rows=299), big.system)
    assert refused.findings == [
        "plan guard refused: planned 300 rows > max_rows 299; re-run with --approve"
    ]
    assert "planned_estimated" not in refused.metrics
    assert big.count() == 320


def test_it_says_about_for_an_estimated_dry_run(big, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    big.fill(clock.now(), old=300, new=20)
    _analyze(big)
    dry = purge.run(make_ctx(dry_run=True), purge_proc(), big.system)
    assert "dry run: would delete about " in dry.summary
    assert big.count() == 320


def test_it_stops_at_the_guards_limit_when_the_statistics_were_stale(big, make_ctx, clock) -> None:  # type: ignore[no-untyped-def]
    # statistics taken when every row was new: they say nothing is older than the cutoff
    big.fill(clock.now(), old=0, new=50)
    with big.engine.begin() as conn:
        conn.execute(text("ALTER TABLE tracking_events SET (autovacuum_enabled = false)"))
    _analyze(big)
    big.fill(clock.now(), old=300, new=0, name="staging")
    with big.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO tracking_events SELECT id + 1000, truck, recorded_at FROM staging")
        )
    proc = purge_proc(max_rows=100, batch_size=30)
    result = purge.run(make_ctx(), proc, big.system)
    assert result.metrics["planned_estimated"] is True and result.metrics["planned_rows"] < 25
    assert result.status == "failed"
    assert result.findings[0].startswith(
        "plan guard: more than the 100 rows allowed without approval are older than the cutoff"
    )
    assert result.metrics["rows_deleted"] == 100
    assert big.count() == 250  # 200 old rows wait for an approval; the 50 new ones stay
    assert result.metrics["older_than_cutoff_left"] is True  # what the evidence pack shows
    assert result.metrics["oldest_remaining_age_days"] > 91
