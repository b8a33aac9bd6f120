"""Benchmark: one client's status page holding 50 incidents and 1,000 Severity-1 updates.

The page is rendered on every request (queries, hash-chain verification of all 1,000 updates,
Jinja2) by the real app under uvicorn in its own process on 127.0.0.1. The baseline is the same
HTML, saved once to a file and served as a static file by the same server process, so the ratio
is the cost of rendering live against the cost of HTTP alone. The live page is measured three
times: rendered on every request (OPSBINDER_STATUS_CACHE_SECONDS=0), as kept in the store with
the default setting (the server sends the kept page; only the first request rendered it), and
kept while one new update arrives every second (posted by a process of its own through the same
service function staff use, as a flow or the CLI would; that writer renders the page when its
update commits). The load average is printed before and after. The load generator is a bounded
Python client (threads with keep-alive connections, a fixed time per phase, loopback only).

Run: .venv/bin/python bench/status_page.py [--seconds 10] [--concurrency 8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-web-"))
os.environ["OPSBINDER_HOME"] = str(_HOME / "opsbinder")
os.environ["OPSBINDER_WEB_SECRET"] = "bench-secret"

INCIDENTS, UPDATES_PER_INCIDENT, RESOLVED = 50, 20, 10

SERVER = """
import sys, uvicorn
from fastapi.staticfiles import StaticFiles
from opsbinder.web.app import create_served_app
app = create_served_app()  # as `opsbinder web` serves it
app.mount("/bench-static", StaticFiles(directory=sys.argv[2]), name="bench-static")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def seed(url: str) -> str:
    """The example client with 50 Sev-1 incidents (10 resolved this week), 20 updates each."""
    from opsbinder import accounts
    from opsbinder.clock import FrozenClock
    from opsbinder.config.loader import load_binder
    from opsbinder.incidents import lifecycle, status_updates
    from opsbinder.store.db import make_engine, session_scope
    from opsbinder.store.migrate import upgrade
    from opsbinder.sync import sync_binder

    engine = make_engine(url)
    upgrade(engine)
    start = datetime.now(UTC) - timedelta(days=3)
    clock = FrozenClock(start)
    with session_scope(engine) as s:
        sync_binder(s, load_binder(ROOT / "config" / "example"), clock)
        token = accounts.issue_status_token(
            s, clock, client_id="nordhafen", name="bench", actor="bench"
        ).token
    for n in range(INCIDENTS):
        clock.set(start + timedelta(minutes=n))
        with session_scope(engine) as s:
            inc = lifecycle.trigger(
                s,
                clock,
                client_id="nordhafen",
                procedure_key="check-tms-backup",
                dedup_key=f"bench:{n}",
                title=f"Bench incident {n}: TMS degraded in warehouse {n % 3 + 1}",
                severity="sev1",
                details={},
            )
            for u in range(UPDATES_PER_INCIDENT):
                clock.set(start + timedelta(minutes=n, hours=2 * u))
                status_updates.post_update(
                    s,
                    clock,
                    inc.id,
                    author="bench",
                    current_status=f"Update {u}: investigating the TMS database, replica lag "
                    "is back under a minute and scanners reconnect one by one.",
                    next_steps="Watch replication; re-enable the remaining scanners.",
                    business_impact="Warehouse staff wait up to two minutes per delivery note.",
                    bridge_url="https://meet.example/bench",
                    notify=False,
                )
            if n < RESOLVED:
                lifecycle.resolve(s, clock, inc.id, actor="bench")
    engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(static_dir: Path, cache_seconds: str) -> Iterator[int]:
    """The app (and the static baseline) under uvicorn in its own process on 127.0.0.1."""
    port = free_port()
    env = {**os.environ, "OPSBINDER_STATUS_CACHE_SECONDS": cache_seconds}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), str(static_dir)], cwd=ROOT, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def get(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str]
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    return response.status, response.read(), response


def load(
    port: int, path: str, headers: dict[str, str], seconds: float, workers: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            status, _body, _r = get(conn, path, headers)
            mine.append(time.perf_counter() - t0)
            bad += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


POSTER = """
import sys, time
from opsbinder.clock import SystemClock
from opsbinder.incidents import status_updates
from opsbinder.store.db import make_engine, session_scope
from opsbinder.web import page_render  # a long-lived writer (a flow worker) has it loaded
engine, posted = make_engine(sys.argv[1]), 0
print("ready", flush=True)  # started and imported: the measured phase begins now
sys.stdin.readline()
began = time.monotonic()
while posted + 1 < float(sys.argv[3]):
    time.sleep(max(0.0, began + posted + 1 - time.monotonic()))  # one a second, not one a post
    with session_scope(engine) as s:
        status_updates.post_update(
            s, SystemClock(), int(sys.argv[2]), author="bench",
            current_status=f"Live update {posted + 1}: scanners reconnecting.",
            next_steps="Watch replication.", business_impact="Deliveries wait up to two minutes.",
            force=True, notify=False,
        )
    posted += 1
print(posted)
"""


@contextmanager
def updates_every_second(url: str, incident_id: int, seconds: float) -> Iterator[list[int]]:
    """One new status update per second on an open incident, posted by a process of its own
    through the same service function staff use (as the CLI, the API or a flow would): the
    writer renders the page when its update commits, so its work is not the load client's."""
    poster = subprocess.Popen(
        [sys.executable, "-c", POSTER, url, str(incident_id), str(seconds)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    posted: list[int] = []
    assert poster.stdin is not None and poster.stdout is not None
    assert poster.stdout.readline().strip() == "ready"  # its start-up is not in the phase
    poster.stdin.write("go\n")
    poster.stdin.flush()
    try:
        yield posted
    finally:
        out, _ = poster.communicate(timeout=60)  # closes its stdin
        posted.extend([1] * int(out.strip() or 0))


def open_incident(url: str) -> int:
    from sqlalchemy import select

    from opsbinder.store.db import make_engine, session_scope
    from opsbinder.store.models import Incident

    engine = make_engine(url)
    with session_scope(engine) as s:
        found = s.scalars(
            select(Incident.id).where(Incident.resolved_at.is_(None)).order_by(Incident.id)
        ).first()
    engine.dispose()
    assert found is not None
    return int(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{_HOME / 'store.db'}"
    os.environ["OPSBINDER_DATABASE_URL"] = url

    t0 = time.perf_counter()
    token = seed(url)
    print(
        f"seeded {INCIDENTS} incidents, {INCIDENTS * UPDATES_PER_INCIDENT} updates "
        f"in {time.perf_counter() - t0:.1f}s ({url.split(':')[0]})"
    )
    static_dir = _HOME / "static"
    static_dir.mkdir()
    results: dict[str, dict[str, float]] = {}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for cache_seconds in ("0", "60"):
        with serve(static_dir, cache_seconds) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status, _, response = get(conn, f"/status/nordhafen?token={token}", {})
            assert status == 303, status
            headers = {"Cookie": response.getheader("set-cookie", "").split(";")[0]}
            status, page, _ = get(conn, "/status/nordhafen", headers)
            updates = len(re.findall(r'<article class="update"', page.decode()))
            assert status == 200 and updates == INCIDENTS * UPDATES_PER_INCIDENT, (status, updates)
            conn.close()
            if cache_seconds == "0":
                (static_dir / "status.html").write_bytes(page)
                print(f"page: {len(page) / 1024:.0f} KiB, {updates} updates")
                phases = [
                    ("static file (baseline)", "/bench-static/status.html", {}),
                    ("live, rendered each time", "/status/nordhafen", headers),
                ]
            else:
                phases = [("live, kept page", "/status/nordhafen", headers)]
            for name, path, hdrs in phases:
                load(port, path, hdrs, min(2.0, args.seconds / 4), args.concurrency)  # warm-up
                results[name] = load(port, path, hdrs, args.seconds, args.concurrency)
            if cache_seconds == "60":
                incident = open_incident(url)
                with updates_every_second(url, incident, args.seconds + 1) as posted:
                    name = "live, kept, 1 update/s"
                    results[name] = load(port, path, headers, args.seconds, args.concurrency)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                # no wait: the writer's page is kept by the time its post returns
                _, page, _ = get(conn, "/status/nordhafen", headers)
                shown = len(re.findall(r'<article class="update"', page.decode()))
                conn.close()
                print(f"posted {len(posted)} updates during the load; the page then showed {shown}")
                assert shown == INCIDENTS * UPDATES_PER_INCIDENT + len(posted), shown

    print(f"\n{'':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for name, r in results.items():
        print(
            f"{name:24} {r['rps']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['requests']:9d} {r['errors']:7d}"
        )
    static = results["static file (baseline)"]
    print(f"\nconcurrency {args.concurrency}, {args.seconds:.0f}s per phase, cpus {os.cpu_count()}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for name in ("live, rendered each time", "live, kept page", "live, kept, 1 update/s"):
        live = results[name]
        print(
            f"{name} / static: throughput {live['rps'] / static['rps']:.3f}x, "
            f"p99 latency {live['p99_ms'] / static['p99_ms']:.1f}x"
        )
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
