"""Benchmark: one steady minutely sweep pass at 1,000, 2,000 and 4,000 procedures with 1,000
open incidents, and a burst of 500 runs missed in the same minute (issue 16, item 6).

Data, in a new PostgreSQL database (127.0.0.1:5432, dropped at the end): the example binder
(config/example) loaded through the real sync path, then cloned in bulk to N clients x 20
procedures (tests/support/fleet.py: the example's scheduled procedures in turn, same crons and zones,
bulk INSERTs of the synced definitions). Every slot of every procedure over
the last four days has an `ok` run, so a steady pass finds nothing missed; 1,000 procedures
have an open incident (opened through `lifecycle.trigger` two hours before, 100 of them as
Severity 1 with their first update overdue, so the update cadence has work to read), and a
warm-up pass sends their first pages and marks the overdue updates, so the measured pass finds
nothing due either. Every client has the example's two heartbeats; the warm-up starts watching
them.

Measured: `opsbinder.sweep.STEPS`, every step the minutely sweep flow runs (without Prefect,
as `tasks/sweep.py` calls them minus the orchestrator), once, with the SQL statements counted
(SQLAlchemy `before_cursor_execute`). Baseline: one scan of what the pass has to read, the
procedures joined to their runs of the last three days and the open incidents joined to their
outbox rows, as two `SELECT count(*)`. The burst: the last slot of 500 four-hourly procedures
without an incident is taken away (their runs deleted), then one missed-run watch pass opens
their 500 incidents.

The steady pass is measured `--passes` times (default 5) at the same instant, each finding the
same nothing due, and the median reported, in wall time and in this process's CPU time: on
a shared machine one pass's wall time varies by half with the load, its CPU time much less.

Run: .venv/bin/python bench/sweep_scale.py [--sizes 1000,2000,4000] [--passes 5] [--code DIR]
(--code: import opsbinder from another checkout, to measure the code before a change).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("--sizes", default="1000,2000,4000")
_args.add_argument("--passes", type=int, default=5, help="steady passes measured (median)")
_args.add_argument("--code", default=None, help="a checkout whose opsbinder/ to import")
ARGS = _args.parse_args()
sys.path.insert(0, str(_HERE.parent))
if ARGS.code:
    sys.path.insert(0, str(Path(ARGS.code).resolve()))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-sweep-"))
os.environ.update(OPSBINDER_HOME=str(_HOME / "opsbinder"), DO_NOT_TRACK="1")
os.environ.pop("PREFECT_API_URL", None)

from sqlalchemy import Engine, delete, event, select, text  # noqa: E402

import opsbinder  # noqa: E402
from opsbinder import sweep  # noqa: E402
from opsbinder.clock import FrozenClock  # noqa: E402
from opsbinder.incidents import missed_runs  # noqa: E402
from opsbinder.store.db import session_scope  # noqa: E402
from opsbinder.store.models import Procedure, Run  # noqa: E402
from tests.support import fleet, pg  # noqa: E402
from tests.support.store import migrated_engine  # noqa: E402

NOW = datetime(2026, 3, 18, 10, 20, tzinfo=UTC)  # a Wednesday, no DST change near
CREATED = NOW - timedelta(days=10)
PER_CLIENT = 20
INCIDENTS = 1000
SEV1 = 100  # of the open incidents


class Counter:
    def __init__(self, engine: Engine) -> None:
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.n += 1


def _baseline(engine: Engine) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(
            text(
                "SELECT count(*) FROM procedures p JOIN runs r ON r.procedure_id = p.id "
                "WHERE p.active AND r.started_at >= :since"
            ),
            {"since": NOW - timedelta(days=3)},
        ).scalar_one()
        conn.execute(
            text(
                "SELECT count(*) FROM incidents i LEFT JOIN outbox o ON o.incident_id = i.id "
                "WHERE i.state != 'resolved'"
            )
        ).scalar_one()
    return time.perf_counter() - started


Took = dict[str, tuple[float, float, int, Any]]  # step -> wall s, CPU s, statements, result


def _pass(engine: Engine, counter: Counter, at: datetime) -> Took:
    """Every step of one sweep, as the flow runs them (with the loaded heap set aside, where the
    code measured does that): time, statements, and what it did."""
    clock = FrozenClock(at)
    took = {}
    with getattr(sweep, "heap_set_aside", contextlib.nullcontext)():
        _steps(engine, counter, clock, took)
    return took


def _steps(engine: Engine, counter: Counter, clock: FrozenClock, took: Took) -> None:
    for step in sweep.STEPS:
        before, started, cpu = counter.n, time.perf_counter(), time.process_time()
        try:
            out: Any = step.does(engine, clock, None)
        except Exception as exc:  # one failing step does not stop the others, as in the flow
            out = f"FAILED {type(exc).__name__}: {exc}"[:120]
        took[step.name] = (
            time.perf_counter() - started,
            time.process_time() - cpu,
            counter.n - before,
            out,
        )


def _median(passes: list[Took]) -> Took:
    """Each step's median wall and CPU time over the passes; statements and result of the first
    (every pass finds the same)."""
    return {
        name: (
            statistics.median(p[name][0] for p in passes),
            statistics.median(p[name][1] for p in passes),
            *passes[0][name][2:],
        )
        for name in passes[0]
    }


def _summary(out: Any) -> str:
    if isinstance(out, dict):
        return ", ".join(f"{k}={len(v) if isinstance(v, list) else v}" for k, v in out.items() if v)
    return str(out)


def main() -> None:
    print(f"opsbinder from {Path(opsbinder.__file__).parent}")
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    url = pg.create_database("bench_sweep")
    engine = migrated_engine(url)
    counter = Counter(engine)
    try:
        tpl = fleet.template(engine, CREATED)
        sizes = [int(s) for s in ARGS.sizes.split(",")]
        have = 0
        for size in sizes:
            first, count = have // PER_CLIENT, (size - have) // PER_CLIENT
            fleet.add_clients(engine, tpl, first, count, PER_CLIENT, NOW, CREATED)
            if have == 0:
                fleet.open_incidents(engine, INCIDENTS, NOW - timedelta(hours=2), sev1=SEV1)
            have = size
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
            _pass(engine, counter, NOW)  # warm-up: the incidents' first pages go out
            with engine.begin() as conn:  # and were delivered (no webhook listens here)
                conn.execute(
                    text("UPDATE outbox SET delivered_at = :at, attempts = 1, claimed_at = NULL"),
                    {"at": NOW},
                )
            base = _baseline(engine)
            passes = [
                _pass(engine, counter, NOW + timedelta(minutes=1)) for _ in range(ARGS.passes)
            ]
            walls = [sum(t for t, _, _, _ in p.values()) for p in passes]
            total = statistics.median(walls)
            cpu = statistics.median(sum(c for _, c, _, _ in p.values()) for p in passes)
            steps = _median(passes)
            statements = sum(n for _, _, n, _ in steps.values())
            print(
                f"{size} procedures, {INCIDENTS} open incidents ({SEV1} Sev-1): pass {total:.2f} s "
                f"(median of {len(passes)}: {min(walls):.2f}-{max(walls):.2f} s; CPU {cpu:.2f} s), "
                f"{statements} statements; baseline scan {base * 1000:.0f} ms; "
                f"ratio {total / base:.1f}x; load {os.getloadavg()[0]:.1f}"
            )
            for name, (t, c, n, out) in steps.items():
                print(
                    f"    {name:18s} {t * 1000:8.0f} ms (CPU {c * 1000:4.0f}) {n:6d} statements  "
                    f"{_summary(out)}"
                )
        _burst(engine, counter)
    finally:
        engine.dispose()
        pg.drop_created_databases()
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def _burst(engine: Engine, counter: Counter) -> None:
    at = NOW + timedelta(minutes=2)
    with session_scope(engine) as s:
        taken = (
            s.execute(
                select(Procedure.id)
                .where(Procedure.cron == "0 */4 * * *")
                .order_by(Procedure.id.desc())
                .limit(500)
            )
            .scalars()
            .all()
        )
        slot = max(
            missed_runs.fire_times("0 */4 * * *", "Europe/Berlin", NOW - timedelta(hours=5), NOW)
        )
        s.execute(delete(Run).where(Run.procedure_id.in_(taken), Run.scheduled_for == slot))
    before, started = counter.n, time.perf_counter()
    report = missed_runs.watch(engine, FrozenClock(at))
    took = time.perf_counter() - started
    print(
        f"burst: {len(taken)} runs missed at {slot:%H:%M} UTC: watch {took:.2f} s, "
        f"{counter.n - before} statements, {len(report.missed)} missed recorded, "
        f"{len(report.errors)} errors; load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
