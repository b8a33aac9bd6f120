"""Benchmark: how much opsbinder's store and Prefect's database grow a day, with and without
housekeeping, for 100 clients x 20 daily procedures.

opsbinder's store (a new SQLite file, or a new PostgreSQL database with --backend postgresql):
100 clients x 20 procedures are recorded for --days days through the real recording code
(`opsbinder.runs.start_run`/`finish_run`, `outbox.enqueue`, `console_sessions.open_session`,
the throttle's table) with a clock moved a day at a time: 2,000 runs a day (3 % failed), two
delivered notifications per failure, 30 console sign-ins and 5 throttle rows a day. The
baseline is the time to record one day. Then the clock moves to 401 days after the first day
and `housekeeping.trim_store` runs: it must delete exactly the first day's runs (and every
outbox, session and throttle row, all older than their retention), and its time is printed as
a ratio to recording a day.

Prefect's database (a Prefect API started for this run on a new SQLite file): --flow-runs real
procedure flow runs (`nordhafen/monthly-restore-test`, a manual checklist, through `run_now`)
and as many real sweep flow runs (8 tasks each), heartbeats off; rows and bytes per flow run of
each kind, scaled to 2,000 procedure runs + 1,440 sweeps a day. Then `trim_flow_runs` deletes
them all (cutoff: now) and the bytes after VACUUM are measured.

Run: .venv/bin/python bench/housekeeping.py [--days 7] [--backend sqlite|postgresql] [--flow-runs 40]
[--skip store|prefect]. Figures in bench/README.md were taken with --days 5 (SQLite), --days 3
(PostgreSQL) and --flow-runs 40.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-hk-"))
os.environ.update(
    OPSBINDER_HOME=str(_HOME / "opsbinder"),
    PREFECT_HOME=str(_HOME / "prefect"),
    DO_NOT_TRACK="1",
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",
)
os.environ.pop("PREFECT_API_URL", None)

from opsbinder import housekeeping, outbox, runs  # noqa: E402
from opsbinder.clock import FrozenClock  # noqa: E402
from opsbinder.procedures.result import ProcedureResult  # noqa: E402
from opsbinder.store.db import session_scope  # noqa: E402
from opsbinder.store.models import (  # noqa: E402
    Client,
    ConsoleSession,
    Procedure,
    SignInFailures,
    User,
)
from tests.support import pg  # noqa: E402
from tests.support.store import migrated_engine  # noqa: E402

START = datetime(2025, 1, 1, 2, 0, tzinfo=UTC)
TABLES = ("runs", "outbox", "console_sessions", "sign_in_failures", "audit_log")


def _seed(engine: Engine, clients: int, procedures: int, clock: FrozenClock) -> int:
    now = clock.now()
    with session_scope(engine) as session:
        for c in range(clients):
            cid = f"client{c:03d}"
            session.add(Client(id=cid, name=cid, created_at=now, updated_at=now))
            for p in range(procedures):
                session.add(
                    Procedure(
                        client_id=cid,
                        key=f"proc{p:02d}",
                        name=f"Procedure {p}",
                        kind="purge",
                        cron=f"{p} 2 * * *",
                        timezone="Europe/Berlin",
                        cadence="daily",
                        severity="sev3",
                        owner="ops",
                        grace_seconds=900,
                        config_hash="x" * 64,
                        created_at=now,
                        updated_at=now,
                    )
                )
        user = User(username="lena", role="L2", password_hash="x", created_at=now)
        session.add(user)
        session.flush()
        return user.id


def _record_day(
    engine: Engine, clock: FrozenClock, day: int, clients: int, procedures: int, user_id: int
) -> None:
    """One day of an install's life, through the code that records it in production."""
    base = clock.now()
    failures = 0
    for c in range(clients):
        for p in range(procedures):
            clock.set(base + timedelta(seconds=p * 30 + c))
            n = c * procedures + p
            failed = n % 33 == day % 33  # ~3 %
            with session_scope(engine) as session:
                run = runs.start_run(
                    session,
                    clock,
                    client_id=f"client{c:03d}",
                    procedure_key=f"proc{p:02d}",
                    flow_run_id=f"{day:06d}-{n:05d}-0000-0000-000000000000"[:36],
                    scheduled_for=clock.now(),
                )
                clock.set(clock.now() + timedelta(seconds=4))
                result = ProcedureResult(
                    status="failed" if failed else "ok",
                    summary="deleted 1,234 rows in 3 batches",
                    metrics={
                        "cutoff": clock.now().isoformat(),
                        "planned_rows": 1234,
                        "rows_deleted": 0 if failed else 1234,
                        "batches": 3,
                        "longest_batch_ms": 41,
                        "partitions_dropped": 0,
                    },
                    findings=["lock wait timeout on tracking_events"] if failed else [],
                )
                runs.finish_run(session, clock, run.id, result)
            if failed:
                failures += 1
    with session_scope(engine) as session:
        for f in range(failures * 2):  # a page and a webhook per failure, delivered
            message = outbox.enqueue(
                session,
                clock,
                channel="webhook",
                target="ops-webhook",
                route={"url_env": "OPS_WEBHOOK_URL"},
                body={"event": "incident.triggered", "title": "purge failed", "n": f},
                idempotency_key=f"day{day}-{f}",
            )
            assert message is not None
            message.delivered_at = clock.now()
            message.attempts = 1
        for s in range(30):
            session.add(
                ConsoleSession(
                    id_hash=f"{day:05d}{s:03d}".ljust(64, "0"),
                    user_id=user_id,
                    created_at=clock.now(),
                    last_seen_at=clock.now(),
                    expires_at=clock.now() + timedelta(hours=12),
                    ended_at=clock.now() + timedelta(hours=2),
                    end_reason="signed out",
                    address="10.0.0.7",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Chromium/131",
                )
            )
        for k in range(5):
            session.add(
                SignInFailures(key=f"addr:day{day}-{k}", failures=6, last_failure_at=clock.now())
            )


def _rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def _bytes(engine: Engine) -> int:
    """The database's size once free pages are given back (VACUUM), so that it is the data's."""
    if engine.dialect.name == "postgresql":
        with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("VACUUM FULL"))
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    database = engine.url.database
    assert database
    engine.dispose()
    return _prefect_bytes(Path(database))


def bench_store(backend: str, days: int, clients: int, procedures: int) -> dict[str, Any]:
    url = (
        pg.create_database("bench_hk")
        if backend == "postgresql"
        else f"sqlite:///{_HOME / 'store.db'}"
    )
    engine = migrated_engine(url)
    clock = FrozenClock(START)
    user_id = _seed(engine, clients, procedures, clock)
    empty_rows, empty_bytes = _rows(engine), _bytes(engine)
    took = []
    for day in range(days):
        clock.set(START + timedelta(days=day))
        started = time.perf_counter()
        _record_day(engine, clock, day, clients, procedures, user_id)
        took.append(time.perf_counter() - started)
    rows, size = _rows(engine), _bytes(engine)
    per_day_rows = {t: (rows[t] - empty_rows[t]) / days for t in TABLES}
    per_day_bytes = (size - empty_bytes) / days
    print(
        f"store ({backend}): {days} days recorded, {rows['runs']:,} runs; "
        f"baseline: recording one day took {sorted(took)[len(took) // 2]:.1f} s (median)"
    )
    print(f"  rows a day: {', '.join(f'{t} {v:,.0f}' for t, v in per_day_rows.items())}")
    print(f"  bytes a day (after VACUUM): {per_day_bytes / 1e6:.2f} MB")

    clock.set(START + timedelta(days=401))  # day 0's runs are 401 days old, day 1's 400
    plan = housekeeping.trim_store(engine, clock, dry_run=True)
    started = time.perf_counter()
    done = housekeeping.trim_store(engine, clock)
    trim_s = time.perf_counter() - started
    after_rows, after_bytes = _rows(engine), _bytes(engine)
    deleted = {t.shelf: t.deleted for t in done.shelves}
    assert deleted["runs"] == clients * procedures, deleted  # exactly day 0
    assert {t.shelf: t.planned for t in plan.shelves} == {t.shelf: t.planned for t in done.shelves}
    print(
        f"  housekeeping 401 days on: deleted {deleted} in {trim_s:.2f} s "
        f"= {trim_s / (sorted(took)[len(took) // 2]):.3f}x recording a day; "
        f"audit rows {rows['audit_log']} -> {after_rows['audit_log']}; "
        f"bytes {size / 1e6:.1f} MB -> {after_bytes / 1e6:.1f} MB"
    )
    run_bytes = per_day_bytes  # nearly all of a day's bytes are its runs (see rows)
    print(
        f"  steady state: without housekeeping it grows {per_day_bytes * 365 / 1e9:.2f} GB a year "
        f"for ever ({per_day_bytes * 3650 / 1e9:.1f} GB after ten years); with it, it levels off "
        f"after 400 days at ~{run_bytes * 400 / 1e9:.2f} GB (400 days of runs; the outbox's 30 "
        "days, sessions and throttle rows are a rounding error)"
    )
    engine.dispose()
    return {"per_day_rows": per_day_rows, "per_day_bytes": per_day_bytes, "trim_s": trim_s}


def _prefect_rows(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        names = ("flow_run", "flow_run_state", "task_run", "task_run_state", "log", "events")
        return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def _table_bytes(db: Path) -> dict[str, int]:
    """Bytes of each table with its indexes (SQLite's dbstat), after VACUUM."""
    import sqlite3

    _prefect_bytes(db)
    with sqlite3.connect(db) as conn:
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        sizes: dict[str, int] = {}
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


def _groups(sizes: dict[str, int]) -> dict[str, int]:
    """Prefect's tables as housekeeping sees them: what it trims, what Prefect trims itself."""
    runs = {"flow_run", "flow_run_state", "task_run", "task_run_state", "log", "artifact"}
    events = {"events", "event_resources"}
    out = {"runs, states, logs": 0, "events (Prefect's own 7-day vacuum)": 0, "other": 0}
    for table, size in sizes.items():
        key = (
            "runs, states, logs"
            if table in runs
            else "events (Prefect's own 7-day vacuum)"
            if table in events
            else "other"
        )
        out[key] += size
    return out


def _delta(after: dict[str, int], before: dict[str, int], n: float) -> dict[str, float]:
    return {k: (after[k] - before.get(k, 0)) / n for k in after}


def _prefect_bytes(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db, timeout=60)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
    return db.stat().st_size


def bench_prefect(flow_runs: int) -> None:
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    from opsbinder.config.loader import load_binder
    from opsbinder.orchestrator.housekeeping import trim_flow_runs
    from opsbinder.sync import sync_binder

    store = f"sqlite:///{_HOME / 'prefect-bench-store.db'}"
    os.environ["OPSBINDER_DATABASE_URL"] = store
    engine = migrated_engine(store)
    clock = FrozenClock(datetime.now(UTC))
    with session_scope(engine) as session:
        example = Path(__file__).resolve().parent.parent / "config" / "example"
        sync_binder(session, load_binder(example), clock)

    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        from flows.catalog import run_now
        from flows.registry import every_flow
        from flows.sweep import sweep

        url = str(PREFECT_API_DATABASE_CONNECTION_URL.value())
        db = Path(url.split("///", 1)[1])
        run_now("nordhafen", "monthly-restore-test", actor="bench")  # warm-up, and a baseline
        time.sleep(2)
        base_rows, base_bytes = _prefect_rows(db), _groups(_table_bytes(db))
        started = time.perf_counter()
        for _ in range(flow_runs):
            run_now("nordhafen", "monthly-restore-test", actor="bench")
        proc_s = time.perf_counter() - started
        time.sleep(3)  # the server writes events and logs a moment later
        proc_rows, proc_bytes = _prefect_rows(db), _groups(_table_bytes(db))
        started = time.perf_counter()
        for _ in range(flow_runs):
            sweep(return_state=True)
        sweep_s = time.perf_counter() - started
        time.sleep(3)
        sweep_rows, sweep_bytes = _prefect_rows(db), _groups(_table_bytes(db))

        per_proc = {k: (proc_rows[k] - base_rows[k]) / flow_runs for k in base_rows}
        per_sweep = {k: (sweep_rows[k] - proc_rows[k]) / flow_runs for k in base_rows}
        b_proc = _delta(proc_bytes, base_bytes, flow_runs)
        b_sweep = _delta(sweep_bytes, proc_bytes, flow_runs)
        daily_by = {k: 2000 * b_proc[k] + 1440 * b_sweep[k] for k in b_proc}
        trimmed_daily = daily_by["runs, states, logs"]
        daily = sum(daily_by.values())
        print(
            f"prefect (SQLite): {flow_runs} procedure runs in {proc_s:.1f} s, "
            f"{flow_runs} sweeps in {sweep_s:.1f} s"
        )
        print(f"  rows per procedure flow run: {per_proc}")
        print(f"  rows per sweep flow run: {per_sweep}")
        for label, per in (("procedure run", b_proc), ("sweep", b_sweep)):
            print(f"  kB per {label}: " + ", ".join(f"{k} {v / 1e3:.1f}" for k, v in per.items()))
        print(
            "  a day of 2,000 procedure runs + 1,440 sweeps: "
            + ", ".join(f"{k} {v / 1e6:.0f} MB" for k, v in daily_by.items())
        )
        names = sorted({e.name for e in every_flow()})
        started = time.perf_counter()
        trimmed = trim_flow_runs(datetime.now(UTC), names)
        trim_s = time.perf_counter() - started
        time.sleep(5)  # logs go in the server's background task
        after_rows, after_bytes = _prefect_rows(db), _groups(_table_bytes(db))
        print(
            f"  trim_flow_runs: {trimmed.deleted} flow runs in {trim_s:.2f} s "
            f"({trimmed.requests} requests, {trim_s / max(trimmed.deleted, 1) * 1000:.1f} ms a run)"
            f"; rows {sweep_rows} -> {after_rows}; bytes {sweep_bytes} -> {after_bytes}"
        )
        events_daily = daily_by["events (Prefect's own 7-day vacuum)"]
        print(
            f"  steady state: without housekeeping runs/states/logs grow {trimmed_daily * 365 / 1e9:.1f}"
            f" GB a year for ever; with it (30 days) they level off at "
            f"~{trimmed_daily * 30 / 1e9:.2f} GB; events "
            f"~{events_daily * 7 / 1e9:.2f} GB either way (7 days, Prefect's own vacuum); "
            f"all of it a day: {daily / 1e6:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--procedures", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--flow-runs", type=int, default=40)
    parser.add_argument("--skip", choices=("store", "prefect"), default=None)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.skip != "store":
        bench_store(args.backend, args.days, args.clients, args.procedures)
    if args.skip != "prefect":
        bench_prefect(args.flow_runs)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    pg.drop_created_databases()


if __name__ == "__main__":
    main()
