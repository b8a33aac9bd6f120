"""Benchmark: batched purge and verified archive against the plain SQL a DBA would type.

Generates N rows (default 2,000,000, half older than the cutoff) of GPS tracking events in a
new PostgreSQL database, and for each measurement a fresh identical copy of the table, then:
- purge baseline: one `DELETE FROM t WHERE recorded_at < cutoff` (one transaction);
- opsbinder purge (batches of `--batch-size`, max_batch_seconds 0.1): rows/s and the longest
  single transaction, against the baseline;
- archive baseline: `COPY (SELECT * FROM t WHERE recorded_at < cutoff) TO STDOUT` into a file,
  fsync, then the same DELETE;
- opsbinder archive (jsonl+gzip and csv+zstd, batches of `--archive-batch-size`): rows/s
  against that baseline.
Targets: purge >= 0.7 of the single statement's rows/s with no transaction over 100 ms;
archive >= 0.5 of its baseline. Run: .venv/bin/python -m bench purge_archive -- --rows 200000
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

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opsbinder.clock import FrozenClock
from opsbinder.config.models import ArchiveProcedure, DatabaseSystem, PurgeProcedure
from opsbinder.procedures import archive, purge
from opsbinder.procedures.context import ProcedureContext
from tests.support import pg
from tests.support.store import migrated_engine

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
CUTOFF = NOW - timedelta(days=90)
SYSTEM = DatabaseSystem(id="bench-db", type="database", url_env="BENCH_DB_URL")


def create_table(engine: Any, name: str, rows: int) -> None:
    """`rows` events spread evenly over 180 days up to NOW (so half are older than 90 days),
    inserted in time order as a real event table fills, with the age index and a primary key."""
    step = 180 * 86400 / rows
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
        conn.execute(
            text(
                f"CREATE TABLE {name} (id bigint PRIMARY KEY, truck text NOT NULL, "
                "lat double precision, lon double precision, speed integer, "
                "recorded_at timestamptz NOT NULL)"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO {name} SELECT g, 'TRK-' || (g % 500), 53.5 + (g % 1000) / 10000.0, "
                "9.9 + (g % 777) / 10000.0, g % 120, "
                ":start + make_interval(secs => (g - 1) * :step) "
                "FROM generate_series(1, :rows) g"
            ),
            {"start": NOW - timedelta(days=180), "step": step, "rows": rows},
        )
        conn.execute(text(f"CREATE INDEX {name}_recorded_at ON {name} (recorded_at)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {name}"))
        conn.execute(text("CHECKPOINT"))


def timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def baseline_delete(engine: Any, name: str) -> tuple[float, int]:
    def go() -> int:
        with engine.begin() as conn:
            return conn.execute(
                text(f"DELETE FROM {name} WHERE recorded_at < :c"), {"c": CUTOFF}
            ).rowcount

    return timed(go)


def baseline_copy_delete(engine: Any, name: str, folder: Path) -> tuple[float, int]:
    def go() -> int:
        path = folder / f"{name}.copy"
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur, open(path, "wb") as fh:
                cur.copy_expert(
                    cur.mogrify(
                        f"COPY (SELECT * FROM {name} WHERE recorded_at < %s) TO STDOUT", (CUTOFF,)
                    ).decode(),
                    fh,
                )
                fh.flush()
                os.fsync(fh.fileno())
            raw.commit()
        finally:
            raw.close()
        with engine.begin() as conn:
            return conn.execute(
                text(f"DELETE FROM {name} WHERE recorded_at < :c"), {"c": CUTOFF}
            ).rowcount

    return timed(go)


def _proc(kind: str, name: str, params: dict[str, Any]) -> Any:
    body = {
        "id": f"bench-{name.replace('_', '-')}",
        "name": "bench",
        "kind": kind,
        "system": SYSTEM.id,
        "schedule": {"cron": "0 1 * * *", "timezone": "UTC"},
        "owner": "bench",
        "escalation_policy": "bench",
        "params": {"table": name, "age_column": "recorded_at", **params},
    }
    model = PurgeProcedure if kind == "purge" else ArchiveProcedure
    return model.model_validate(body)


def _server_version(engine: Any) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SHOW server_version")).scalar())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=50000)
    parser.add_argument("--archive-batch-size", type=int, default=50000)
    parser.add_argument(
        "--only",
        choices=("purge", "archive", "csv", "jsonl"),
        action="append",
        help="run only these measurements (repeatable; archive = csv and jsonl), each with its "
        "baseline",
    )
    args = parser.parse_args()
    only = set(args.only or ("purge", "archive"))
    if "archive" in only:
        only |= {"csv", "jsonl"}

    url = pg.create_database("bench")
    engine = create_engine(url)
    work = Path(tempfile.mkdtemp(prefix="opsbinder-bench-"))
    store = migrated_engine(f"sqlite:///{work / 'store.db'}")
    environ = {"BENCH_DB_URL": url, "ARCHIVE_DIR": str(work / "archive")}
    expired = args.rows // 2
    results: list[tuple[str, float, float | None, str]] = []

    def ctx(proc_id: str) -> ProcedureContext:
        return ProcedureContext(
            "bench", proc_id, FrozenClock(NOW), store, approve=True, environ=environ
        )

    try:
        print(f"rows: {args.rows:,} ({expired:,} expired); PostgreSQL {_server_version(engine)}")
        print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        if "purge" in only:
            measure_purge(engine, args, results, ctx)
        if only & {"csv", "jsonl"}:
            measure_archive(engine, args, results, ctx, work, only)
        print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        engine.dispose()
        store.dispose()
        pg.drop_created_databases()
    report(results)


def measure_purge(engine: Any, args: Any, results: list[Any], ctx: Any) -> None:
    create_table(engine, "base_purge", args.rows)
    base_s, base_rows = baseline_delete(engine, "base_purge")
    base_rate = base_rows / base_s
    results.append(("purge baseline: one DELETE", base_rate, base_s * 1000, f"{base_rows:,} rows"))

    create_table(engine, "ob_purge", args.rows)
    proc = _proc("purge", "ob_purge", {"retention_days": 90, "batch_size": args.batch_size})
    ob_s, res = timed(lambda: purge.run(ctx("bench-purge"), proc, SYSTEM))
    assert res.status == "ok", res.summary
    m = res.metrics
    rate = m["rows_deleted"] / ob_s
    results.append(
        (
            "opsbinder purge",
            rate,
            m["longest_batch_ms"],
            f"{m['rows_deleted']:,} rows, {m['batches']} batches, ratio {rate / base_rate:.2f}",
        )
    )


def measure_archive(
    engine: Any, args: Any, results: list[Any], ctx: Any, work: Path, only: set[str]
) -> None:
    create_table(engine, "base_archive", args.rows)
    abase_s, abase_rows = baseline_copy_delete(engine, "base_archive", work)
    abase_rate = abase_rows / abase_s
    results.append(
        ("archive baseline: COPY TO file + DELETE", abase_rate, None, f"{abase_rows:,} rows")
    )
    for fmt, comp in (("jsonl", "gzip"), ("csv", "zstd")):
        if fmt not in only:
            continue
        table = f"ob_archive_{fmt}"
        create_table(engine, table, args.rows)
        proc = _proc(
            "archive",
            table,
            {
                "key_column": "id",
                "older_than_days": 90,
                "destination": "${ARCHIVE_DIR}",
                "format": fmt,
                "compression": comp,
                "batch_size": args.archive_batch_size,
            },
        )
        a_s, res = timed(lambda proc=proc: archive.run(ctx(proc.id), proc, SYSTEM))
        assert res.status == "ok", res.summary
        rate = res.metrics["rows_archived"] / a_s
        results.append(
            (
                f"opsbinder archive {fmt}+{comp}",
                rate,
                None,
                f"{res.metrics['rows_archived']:,} rows, {res.metrics['files']} files, "
                f"{res.metrics['bytes_archived'] / 1e6:.1f} MB, ratio {rate / abase_rate:.2f}",
            )
        )


def report(results: list[Any]) -> None:
    print(f"{'measurement':42} {'rows/s':>10} {'longest tx ms':>14}  notes")
    for label, rate, longest, note in results:
        shown = f"{longest:,.0f}" if longest is not None else "-"
        print(f"{label:42} {rate:>10,.0f} {shown:>14}  {note}")


if __name__ == "__main__":
    main()
