"""Benchmark: a manager's report over a year of history, against one aggregate scan of the runs.

Generates 100 clients x 20 daily procedures x 365 days (~700,000 runs, 5,000 incidents, a few
hundred Severity-1 status updates) in a new PostgreSQL database with COPY, then times:
- baseline: one `SELECT outcome, count(*) FROM runs GROUP BY outcome` (a full scan);
- one client's month report with a 6-month trend, and the same rendered to HTML;
- the all-clients month report (100 client rows, 2,000 procedure rows) with its trend;
- the runs' figures of that report alone (7 UTC months, every procedure): summed from the runs
  table as before the roll-up, and read from the roll-up (`run_days`) as the report does now;
- one client's evidence pack for the month (every figure and list, JSON and HTML written),
  and the same with its PDF printed by headless Chromium.
The runs are loaded with COPY through the roll-up's triggers (as any writer's), so the load time
includes keeping `run_days`. Prints each as a ratio to the baseline. Run: .venv/bin/python bench/report.py [--clients 100]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsbinder.evidence.files import write_pack
from opsbinder.evidence.pack import gather
from opsbinder.reports import figures, run_days
from opsbinder.reports.render import to_html
from opsbinder.reports.report import Month, build_report
from opsbinder.store.db import session_scope
from tests.support import pg
from tests.support.store import migrated_engine

KINDS = ("purge", "archive", "backup_check", "disk_check", "update_reminder", "manual", "custom")
YEAR_START = datetime(2025, 11, 1, tzinfo=UTC)
# every client with an office-hours contract, so the pack computes every incident's SLA clocks
CONTRACT = json.dumps(
    {
        "contract": {
            "service_hours": {"weekly": {"mon-fri": ["08:00-18:00"]}},
            "targets": {s: {"response": "4h", "resolution": "3d"} for s in ("sev2", "sev3", "sev4")}
            | {"sev1": {"response": "15m", "resolution": "4h", "counted": "always"}},
            "on_time": [{"procedure": "p00", "target": 0.99}],
        }
    }
).replace("\\", "\\\\")


def _copy(engine: Engine, table: str, columns: list[str], rows: list[tuple]) -> None:  # type: ignore[type-arg]
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buf.seek(0)
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)
        raw.commit()
    finally:
        raw.close()


def generate(
    engine: Engine, clients: int, procedures: int, days: int, seed: int = 1
) -> dict[str, int]:
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat()
    _copy(
        engine,
        "clients",
        [
            "id",
            "name",
            "timezone",
            "definition",
            "config_hash",
            "paused",
            "locked_down",
            "created_at",
            "updated_at",
        ],
        [
            (f"c{c:03d}", f"Client {c:03d}", "Europe/Berlin", CONTRACT, "", "f", "f", now, now)
            for c in range(clients)
        ],
    )
    procs = []
    for c in range(clients):
        for p in range(procedures):
            pid = c * procedures + p + 1
            kind = KINDS[p % len(KINDS)]
            procs.append(
                (
                    pid,
                    f"c{c:03d}",
                    f"p{p:02d}",
                    f"Procedure {p:02d}",
                    kind,
                    f"{p} 2 * * *",
                    "Europe/Berlin",
                    "daily",
                    "sev3",
                    "owner",
                    1800,
                    "{}",
                    "",
                    "f",
                    "t",
                    now,
                    now,
                )
            )
    _copy(
        engine,
        "procedures",
        [
            "id",
            "client_id",
            "key",
            "name",
            "kind",
            "cron",
            "timezone",
            "cadence",
            "severity",
            "owner",
            "grace_seconds",
            "definition",
            "config_hash",
            "paused",
            "active",
            "created_at",
            "updated_at",
        ],
        procs,
    )
    runs = []
    for pid, client_id, _key, _name, kind, *_ in procs:
        minute = pid % procedures
        for d in range(days):
            sched = YEAR_START + timedelta(days=d, hours=1, minutes=minute)
            r = rng.random()
            outcome = (
                "ok" if r < 0.95 else "failed" if r < 0.98 else "missed" if r < 0.99 else "crashed"
            )
            late = (
                rng.choice((5, 10, 30, 60, 120, 3600)) if rng.random() < 0.1 else rng.randint(0, 20)
            )
            started = sched + timedelta(seconds=late)
            metrics = (
                {"rows_deleted": rng.randint(0, 50_000)}
                if kind == "purge"
                else {"bytes_archived": rng.randint(0, 5_000_000_000)}
                if kind == "archive"
                else {}
            )
            runs.append(
                (
                    client_id,
                    pid,
                    sched.isoformat(),
                    started.isoformat(),
                    None if outcome == "missed" else (started + timedelta(seconds=30)).isoformat(),
                    outcome,
                    "",
                    "f",
                    "f",
                    json.dumps(metrics),
                    "scheduler",
                )
            )
    _copy(
        engine,
        "runs",
        [
            "client_id",
            "procedure_id",
            "scheduled_for",
            "started_at",
            "ended_at",
            "outcome",
            "reason",
            "dry_run",
            "verification",
            "metrics",
            "actor",
        ],
        runs,
    )
    incidents, updates = [], []
    n_incidents = clients * 50
    for i in range(n_incidents):
        pid = rng.randint(1, len(procs))
        client_id = procs[pid - 1][1]
        opened = YEAR_START + timedelta(seconds=rng.randint(0, days * 86400))
        sev = rng.choices(("sev1", "sev2", "sev3", "sev4"), (1, 5, 20, 10))[0]
        acked = opened + timedelta(seconds=rng.randint(30, 3600))
        resolved = acked + timedelta(seconds=rng.randint(600, 86400))
        incidents.append(
            (
                i + 1,
                client_id,
                pid,
                f"k{i}",
                "t",
                sev,
                "resolved",
                opened.isoformat(),
                acked.isoformat(),
                resolved.isoformat(),
                1,
                opened.isoformat(),
                "{}",
                "{}",
                0,
            )
        )
        if sev == "sev1":
            at = opened
            for seq in range(1, 5):
                nxt = at + timedelta(hours=1)
                updates.append(
                    (i + 1, seq, at.isoformat(), "a", "s", "n", "", "b", nxt.isoformat(), "0", "0")
                )
                at = nxt + timedelta(minutes=rng.choice((-10, -1, 0, 5, 20)))
    _copy(
        engine,
        "incidents",
        [
            "id",
            "client_id",
            "procedure_id",
            "dedup_key",
            "title",
            "severity",
            "state",
            "opened_at",
            "acknowledged_at",
            "resolved_at",
            "occurrences",
            "last_occurrence_at",
            "policy_snapshot",
            "details",
            "escalation_level",
        ],
        incidents,
    )
    _copy(
        engine,
        "status_updates",
        [
            "incident_id",
            "seq",
            "posted_at",
            "author",
            "current_status",
            "next_steps",
            "bridge_url",
            "business_impact",
            "next_update_at",
            "prev_hash",
            "hash",
        ],
        updates,
    )
    with engine.begin() as conn:
        for table in ("procedures", "incidents"):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            )
    # what autovacuum does in a running store: the roll-ups' rows were updated once per run
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return {"runs": len(runs), "incidents": len(incidents), "status_updates": len(updates)}


def _time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--procedures", type=int, default=20)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    engine = migrated_engine(pg.create_database("bench_report"))
    try:
        t0 = time.perf_counter()
        counts = generate(engine, args.clients, args.procedures, args.days)
        print(f"generated {counts} in {time.perf_counter() - t0:.1f} s (runs through the triggers)")
        with engine.connect() as conn:
            days = conn.execute(text("SELECT count(*) FROM run_days")).scalar_one()
            months = conn.execute(text("SELECT count(*) FROM run_months")).scalar_one()
        print(f"roll-up rows: run_days {days:,}, run_months {months:,}")
        month = Month.parse("2026-10")

        def baseline() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT outcome, count(*) FROM runs GROUP BY outcome")).all()

        base = _time(baseline, args.repeat)
        one = _time(
            lambda: build_report(engine, month, client_id=f"c{args.clients // 2:03d}"), args.repeat
        )
        one_html = _time(
            lambda: to_html(build_report(engine, month, client_id=f"c{args.clients // 2:03d}")),
            args.repeat,
        )
        every = _time(lambda: build_report(engine, month), max(1, args.repeat // 2))
        edges = [month.shift(-back).bounds("UTC")[0] for back in range(6, -1, -1)]
        edges.append(month.bounds("UTC")[1])

        def runs_part(read) -> None:  # type: ignore[no-untyped-def]
            with engine.connect() as conn:
                read(conn, edges, None)

        def rolled(conn, edges, ids) -> None:  # type: ignore[no-untyped-def]
            run_days.run_figures(conn, edges, ids, detail_from=len(edges) - 2)  # as the report

        raw_runs = _time(lambda: runs_part(figures.run_figures), max(1, args.repeat // 2))
        rolled_runs = _time(lambda: runs_part(rolled), args.repeat)
        who = f"c{args.clients // 2:03d}"
        out = Path(tempfile.mkdtemp(prefix="bench-evidence-"))

        def pack(pdf: bool) -> None:
            with session_scope(engine) as session:
                data = gather(session, who, month)
            write_pack(data, out, pdf=pdf)

        evidence = _time(lambda: pack(False), args.repeat)
        evidence_pdf = _time(lambda: pack(True), 1)
        print(
            f"baseline: one aggregate scan of {counts['runs']:,} runs  {base * 1000:8.1f} ms  1.00"
        )
        for label, value in (
            ("one client, month + 6-month trend", one),
            ("one client, same, rendered to HTML", one_html),
            (f"all {args.clients} clients, month + trend", every),
            ("  its runs' figures summed from runs (before)", raw_runs),
            ("  its runs' figures from the roll-up (now)", rolled_runs),
            ("one client's evidence pack, JSON + HTML", evidence),
            ("one client's evidence pack, + PDF (Chromium)", evidence_pdf),
        ):
            print(f"{label:45} {value * 1000:8.1f} ms  {value / base:5.2f}x baseline")
    finally:
        engine.dispose()
        pg.drop_created_databases()


if __name__ == "__main__":
    main()
