"""Purge on a real client database (SQLite and PostgreSQL): what goes, what stays, and the
safety rules -- checked names, dry run, lock, plan guard."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from opsbinder.procedures import locks, purge
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Client, Procedure, Run
from tests.procedures.conftest import purge_proc


def test_it_deletes_only_rows_older_than_the_retention(client_db, make_ctx, clock, store):
    client_db.fill(clock.now(), old=250, new=40)
    result = purge.run(make_ctx(), purge_proc(batch_size=100), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 250
    assert result.metrics["planned_rows"] == 250
    assert client_db.count() == 40
    assert client_db.ids() == set(range(251, 291))
    # measured after the run, for the evidence pack: the newest 40 rows are 1..40 hours old
    oldest = clock.now() - timedelta(hours=40)
    assert result.metrics["oldest_remaining"] == oldest.isoformat()
    assert result.metrics["oldest_remaining_age_days"] == 1.67
    assert result.metrics["older_than_cutoff_left"] is False
    with session_scope(store) as session:
        entry = session.execute(select(AuditEntry)).scalar_one()
    assert entry.action == "purge.delete"
    assert entry.details["rows_deleted"] == 250
    assert entry.details["oldest_remaining"] == oldest.isoformat()


def test_it_bounds_every_batch_by_the_batch_size(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=250, new=10)
    progress: list[tuple[int, int | None]] = []
    ctx = make_ctx(progress=lambda done, total, _msg: progress.append((done, total)))
    result = purge.run(ctx, purge_proc(batch_size=60, max_batch_seconds=60), client_db.system)
    assert result.metrics["batches"] == 5  # 60+60+60+60+10
    assert [d for d, _ in progress] == [60, 120, 180, 240, 250]
    assert all(total == 250 for _, total in progress)
    assert result.metrics["longest_batch_ms"] > 0


def test_it_shrinks_batches_that_take_longer_than_max_batch_seconds(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=120, new=5)
    result = purge.run(
        make_ctx(), purge_proc(batch_size=100, max_batch_seconds=0.000001), client_db.system
    )
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 120
    assert result.metrics["batches"] > 2  # without adapting, 100 + 20 would be 2 batches


def test_it_deletes_rows_sharing_one_timestamp_across_batch_borders(client_db, make_ctx, clock):
    table = client_db.fill(clock.now(), old=0, new=0)
    same = clock.now() - timedelta(days=200)
    with client_db.engine.begin() as conn:
        conn.execute(
            table.insert(), [{"id": i, "truck": "T", "recorded_at": same} for i in range(1, 31)]
        )
    result = purge.run(make_ctx(), purge_proc(batch_size=7), client_db.system)
    assert result.metrics["rows_deleted"] == 30
    assert client_db.count() == 0


def test_it_counts_but_deletes_nothing_on_a_dry_run(client_db, make_ctx, clock, store):
    client_db.fill(clock.now(), old=75, new=5)
    result = purge.run(make_ctx(dry_run=True), purge_proc(max_rows=10), client_db.system)
    assert result.status == "ok"
    assert result.metrics["planned_rows"] == 75
    assert result.metrics["rows_deleted"] == 0
    assert "would delete 75 rows" in result.summary
    assert "plan guard would refuse" in result.summary
    assert client_db.count() == 80
    with session_scope(store) as session:
        assert session.execute(select(AuditEntry)).first() is None


def test_it_refuses_a_missing_table_before_deleting_anything(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    result = purge.run(make_ctx(), purge_proc(table="tracking_event"), client_db.system)
    assert result.status == "failed"
    assert "params.table: no table 'tracking_event'" in result.findings[0]
    assert client_db.count() == 10


def test_it_refuses_a_missing_column_and_never_uses_config_as_sql(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    result = purge.run(
        make_ctx(), purge_proc(age_column="recorded_at; DROP TABLE x"), client_db.system
    )
    assert result.status == "failed"
    assert "params.age_column: table 'tracking_events' has no column" in result.findings[0]
    assert client_db.count() == 10


def test_it_fails_clearly_when_the_url_variable_is_not_set(client_db, make_ctx, clock):
    ctx = make_ctx()
    ctx.environ = {}
    result = purge.run(ctx, purge_proc(), client_db.system)
    assert result.status == "failed"
    assert "CLIENT_DB_URL, which is not set" in result.summary


def test_it_skips_when_another_run_holds_the_lock(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=10, new=0)
    name = "nordhafen/purge-tracking-events"
    with locks.procedure_lock(client_db.engine, name, clock) as held:
        assert held is None
        result = purge.run(make_ctx(), purge_proc(), client_db.system)
    assert result.status == "skipped"
    assert result.summary == (
        "another run of nordhafen/purge-tracking-events holds the lock since 2026-03-20T10:00:00Z"
    )
    assert client_db.count() == 10
    again = purge.run(make_ctx(), purge_proc(), client_db.system)
    assert again.status == "ok" and again.metrics["rows_deleted"] == 10


def test_it_refuses_a_plan_above_max_rows_unless_approved(client_db, make_ctx, clock):
    client_db.fill(clock.now(), old=30, new=3)
    refused = purge.run(make_ctx(), purge_proc(max_rows=20), client_db.system)
    assert refused.status == "failed"
    assert refused.findings == [
        "plan guard refused: planned 30 rows > max_rows 20; re-run with --approve"
    ]
    assert client_db.count() == 33
    approved = purge.run(make_ctx(approve=True), purge_proc(max_rows=20), client_db.system)
    assert approved.status == "ok"
    assert client_db.count() == 3


def _history(store, clock, amounts):
    now = clock.now()
    with session_scope(store) as session:
        session.add(Client(id="nordhafen", name="N", created_at=now, updated_at=now))
        proc = Procedure(
            client_id="nordhafen",
            key="purge-tracking-events",
            name="p",
            kind="purge",
            cron="15 1 * * *",
            timezone="UTC",
            cadence="daily",
            severity="sev3",
            owner="x",
            grace_seconds=60,
            config_hash="h",
            created_at=now,
            updated_at=now,
        )
        session.add(proc)
        session.flush()
        for i, amount in enumerate(amounts):
            session.add(
                Run(
                    client_id="nordhafen",
                    procedure_id=proc.id,
                    outcome="ok",
                    started_at=now - timedelta(days=i + 1),
                    metrics={"rows_deleted": amount},
                )
            )
        session.add(
            Run(
                client_id="nordhafen",
                procedure_id=proc.id,
                outcome="failed",
                started_at=now - timedelta(hours=1),
                metrics={"rows_deleted": 999_999},
            )
        )


def test_it_refuses_a_plan_far_above_the_usual_amount(client_db, make_ctx, clock, store):
    _history(store, clock, [100, 120, 90, 110])
    client_db.fill(clock.now(), old=1500, new=0)
    refused = purge.run(make_ctx(), purge_proc(batch_size=1000, max_growth=5), client_db.system)
    assert refused.status == "failed"
    assert "planned 1,500 rows > 5 x the usual 105" in refused.summary
    assert client_db.count() == 1500
    approved = purge.run(make_ctx(approve=True), purge_proc(batch_size=1000), client_db.system)
    assert approved.status == "ok" and client_db.count() == 0


def test_it_accepts_a_plan_within_the_usual_amount(client_db, make_ctx, clock, store):
    _history(store, clock, [1000, 1100, 900])
    client_db.fill(clock.now(), old=1500, new=0)
    result = purge.run(make_ctx(), purge_proc(batch_size=1000), client_db.system)
    assert result.status == "ok" and result.metrics["rows_deleted"] == 1500
