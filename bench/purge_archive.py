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
from statistics import median
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
        "--rounds",
        type=int,
        default=3,
        help="pairs of baseline and opsbinder runs per measurement, in alternating order; the "
        "ratio is taken pair by pair and its median reported (a shared machine's speed drifts)",
    )
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
    pairs: dict[str, list[Pair]] = {}

    def ctx(proc_id: str) -> ProcedureContext:
        return ProcedureContext(
            "bench", proc_id, FrozenClock(NOW), store, approve=True, environ=environ
        )

    try:
        print(f"rows: {args.rows:,} ({expired:,} expired); PostgreSQL {_server_version(engine)}")
        print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        for round_no in range(args.rounds):
            ours_first = round_no % 2 == 1
            for kind in ("purge", "csv", "jsonl"):
                if kind not in only:
                    continue
                environ["ARCHIVE_DIR"] = str(work / f"archive-{round_no}")
                pair = measure(kind, engine, args, ctx, work, ours_first=ours_first)
                pairs.setdefault(kind, []).append(pair)
                print(f"round {round_no + 1} {kind}: ratio {pair.ratio:.2f} ({pair.note})")
        print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        engine.dispose()
        store.dispose()
        pg.drop_created_databases()
    report(pairs)


class Pair:
    """One baseline run and one opsbinder run on identical copies of the data, back to back."""

    def __init__(self, base_rate: float, rate: float, longest_ms: float | None, note: str) -> None:
        self.base_rate, self.rate, self.longest_ms, self.note = base_rate, rate, longest_ms, note
        self.ratio = rate / base_rate


def measure(kind: str, engine: Any, args: Any, ctx: Any, work: Path, *, ours_first: bool) -> Pair:
    def base() -> float:
        create_table(engine, f"base_{kind}", args.rows)
        if kind == "purge":
            seconds, rows = baseline_delete(engine, f"base_{kind}")
        else:
            seconds, rows = baseline_copy_delete(engine, f"base_{kind}", work)
        return rows / seconds

    def ours() -> tuple[float, float | None, str]:
        table = f"ob_{kind}"
        create_table(engine, table, args.rows)
        if kind == "purge":
            proc = _proc("purge", table, {"retention_days": 90, "batch_size": args.batch_size})
            seconds, res = timed(lambda: purge.run(ctx(proc.id), proc, SYSTEM))
            assert res.status == "ok", res.summary
            m = res.metrics
            return m["rows_deleted"] / seconds, m["longest_batch_ms"], f"{m['batches']} batches"
        fmt, comp = ("csv", "zstd") if kind == "csv" else ("jsonl", "gzip")
        params = {
            "key_column": "id",
            "older_than_days": 90,
            "destination": "${ARCHIVE_DIR}",
            "format": fmt,
            "compression": comp,
            "batch_size": args.archive_batch_size,
        }
        proc = _proc("archive", table, params)
        seconds, res = timed(lambda: archive.run(ctx(proc.id), proc, SYSTEM))
        assert res.status == "ok", res.summary
        m = res.metrics
        note = f"{m['files']} files, {m['bytes_archived'] / 1e6:.1f} MB"
        return m["rows_archived"] / seconds, None, note

    if ours_first:
        rate, longest, note = ours()
        base_rate = base()
    else:
        base_rate = base()
        rate, longest, note = ours()
    return Pair(base_rate, rate, longest, note)


LABELS = {
    "purge": ("one DELETE", "opsbinder purge"),
    "csv": ("COPY TO file + DELETE", "opsbinder archive csv+zstd"),
    "jsonl": ("COPY TO file + DELETE", "opsbinder archive jsonl+gzip"),
}


def report(pairs: dict[str, list[Pair]]) -> None:
    print(
        f"{'measurement':30} {'baseline':>22} {'rows/s':>10} {'base rows/s':>12} "
        f"{'ratio (median)':>15} {'ratio range':>12} {'longest tx ms':>14}"
    )
    for kind, runs in pairs.items():
        baseline, label = LABELS[kind]
        ratios = sorted(p.ratio for p in runs)
        longest = [p.longest_ms for p in runs if p.longest_ms is not None]
        shown = f"{max(longest):,.0f}" if longest else "-"
        print(
            f"{label:30} {baseline:>22} {median(p.rate for p in runs):>10,.0f} "
            f"{median(p.base_rate for p in runs):>12,.0f} {median(ratios):>15.2f} "
            f"{ratios[0]:>5.2f}-{ratios[-1]:<6.2f} {shown:>14}"
        )


if __name__ == "__main__":
    main()
