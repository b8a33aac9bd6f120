"""Benchmark: the minutely sweep's `status pages` step with 200 kept status pages and nothing due,
this code against the code before it (issue 16, items 3 and 6).

Data, in a new store (SQLite in a temporary folder, or with --pg a new PostgreSQL database on
127.0.0.1:5432, dropped at the end): the example binder (config/example: components,
maintenance windows) synced through the real path and cloned to 200 clients x 20 procedures
with an `ok` run for every slot of the last four days (tests/support/fleet.py); every fourth
client has one open incident. Each client's page is rendered and kept once, as its first
reader's request would (`page_render.refresh`): pages of the example's normal size.

Measured: the step as the sweep flow runs it (`sweep.step("status pages")`), --passes times a
minute apart on the domain clock, each pass's rendered_at moved a minute back first (the code
before renders every page a minute old; the wall clock does not move a minute between passes
here); the median wall and CPU time and the statements of a pass. For this code also a pass
15 minutes on, when every page is due a check of its hash chains (it renders the
`status_checks_per_pass` least recently checked, 20), and from it the cost a minute averaged
over the check period (200 pages / 15 minutes = 13.3 renders a minute).

The baseline is the same step of the code before (default: the commit before this bench's
change, extracted with `git archive`; --before DIR for another checkout), each code in a process
of its own with its own store, alternated --rounds times; the ratio is this code's median over
the baseline's, per round.

Run: .venv/bin/python bench/status_sweep.py [--pg] [--rounds 3] [--passes 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
BEFORE_COMMIT = "b73ad17"  # main just before the sweep rendered only due pages
CLIENTS = 200
NOW = datetime(2026, 3, 18, 10, 20, tzinfo=UTC)  # a Wednesday, no DST change near
CREATED = NOW - timedelta(days=10)

_args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_args.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
_args.add_argument("--rounds", type=int, default=3)
_args.add_argument("--passes", type=int, default=5)
_args.add_argument("--before", default=None, help="a checkout of the code before")
_args.add_argument("--code", default=None, help=argparse.SUPPRESS)  # a child: this code
ARGS = _args.parse_args()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def child() -> dict[str, Any]:
    """Build the data with the code at --code and measure its sweep step (JSON on stdout)."""
    sys.path.insert(0, str(Path(ARGS.code).resolve()))
    home = Path(tempfile.mkdtemp(prefix="opsbinder-bench-pages-"))
    os.environ.update(OPSBINDER_HOME=str(home / "opsbinder"), DO_NOT_TRACK="1")
    os.environ.pop("PREFECT_API_URL", None)
    from sqlalchemy import event, select, text

    from opsbinder import sweep
    from opsbinder.clock import FrozenClock
    from opsbinder.incidents import lifecycle
    from opsbinder.store.db import session_scope
    from opsbinder.store.models import Procedure
    from opsbinder.web import page_render
    from tests.support import fleet, pg
    from tests.support.store import migrated_engine

    url = pg.create_database("bench_pages") if ARGS.pg else f"sqlite:///{home / 'store.db'}"
    try:
        engine = migrated_engine(url)
        tpl = fleet.template(engine, CREATED)
        fleet.add_clients(engine, tpl, 0, CLIENTS, 20, NOW, CREATED)
        clock = FrozenClock(NOW)
        with session_scope(engine) as s:
            firsts = s.execute(
                select(Procedure.client_id, Procedure.key, Procedure.name)
                .where(Procedure.key == tpl.procedures[0]["key"])
                .order_by(Procedure.client_id)
            ).all()
            for n, (client_id, key, name) in enumerate(firsts):
                if n % 4 == 0:
                    lifecycle.trigger(
                        s, clock, client_id=client_id, procedure_key=key,
                        dedup_key=f"{client_id}/{key}", title=f"{name}: failed",
                        severity="sev3", details={"state": "Failed"}, actor="bench",
                    )  # fmt: skip
        clients = [f"c{n:04d}" for n in range(CLIENTS)]
        started = time.perf_counter()
        for client_id in clients:
            page_render.refresh(engine, clock, client_id)
        keep_s = time.perf_counter() - started
        with engine.connect() as conn:
            size = conn.execute(text("SELECT avg(length(body)) FROM stored_pages")).scalar_one()
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        event.listen(engine, "before_cursor_execute", count)
        step = sweep.step("status pages")
        passes = []
        for _ in range(ARGS.passes):
            clock.advance(timedelta(minutes=1))
            with session_scope(engine) as s:  # a minute older by the wall clock too
                s.execute(text("UPDATE stored_pages SET rendered_at = rendered_at - 60"))
            before, wall, cpu = statements[0], time.perf_counter(), time.process_time()
            out = step.does(engine, clock, None)
            passes.append(
                (
                    time.perf_counter() - wall,
                    time.process_time() - cpu,
                    statements[0] - before,
                    len(out["rendered"]),
                )
            )
        result: dict[str, Any] = {
            "wall": statistics.median(p[0] for p in passes),
            "cpu": statistics.median(p[1] for p in passes),
            "statements": passes[-1][2],
            "rendered": passes[-1][3],
            "walls": [round(p[0], 4) for p in passes],
            "keep_200_s": keep_s,
            "page_bytes": float(size),
        }
        if hasattr(page_render, "render_kept"):  # this code: a pass with the checks due
            clock.advance(timedelta(minutes=15))
            before, wall, cpu = statements[0], time.perf_counter(), time.process_time()
            out = step.does(engine, clock, None)
            result["check_pass"] = {
                "wall": time.perf_counter() - wall,
                "cpu": time.process_time() - cpu,
                "statements": statements[0] - before,
                "rendered": len(out["rendered"]),
            }
        return result
    finally:
        if ARGS.pg:
            pg.drop_created_databases()


def _before_checkout() -> Path:
    if ARGS.before:
        return Path(ARGS.before)
    folder = Path(tempfile.mkdtemp(prefix="opsbinder-before-"))
    archive = subprocess.run(
        ["git", "-C", str(_HERE.parent), "archive", BEFORE_COMMIT, "opsbinder", "tests", "config"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def _run(code: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--code", str(code), "--passes", str(ARGS.passes)]
    done = subprocess.run(
        command + (["--pg"] if ARGS.pg else []), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    before, after = _before_checkout(), _HERE.parent
    store = "PostgreSQL" if ARGS.pg else "SQLite"
    print(f"status pages step, {CLIENTS} kept pages, nothing due, {store}; load {_load()}")
    for n in range(ARGS.rounds):
        old = _run(before)
        new = _run(after)
        check = new["check_pass"]
        per_render = max(check["cpu"] - new["cpu"], 0.0) / max(check["rendered"], 1)
        minute = new["cpu"] + per_render * CLIENTS / 15
        print(
            f"round {n + 1} (load {_load()}): before {old['wall'] * 1000:.1f} ms wall, "
            f"{old['cpu'] * 1000:.1f} ms CPU, {old['statements']} statements, "
            f"{old['rendered']} rendered | now {new['wall'] * 1000:.1f} ms wall, "
            f"{new['cpu'] * 1000:.1f} ms CPU, {new['statements']} statements, "
            f"{new['rendered']} rendered | ratio {new['wall'] / old['wall']:.4f} wall, "
            f"{new['cpu'] / old['cpu']:.4f} CPU | check pass {check['rendered']} rendered "
            f"{check['wall'] * 1000:.0f} ms wall {check['cpu'] * 1000:.0f} ms CPU; CPU a minute "
            f"with checks averaged {minute * 1000:.0f} ms | page {new['page_bytes'] / 1024:.0f} "
            f"KiB"
        )


if __name__ == "__main__":
    if ARGS.code:
        print(json.dumps(child()))
    else:
        main()
