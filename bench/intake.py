"""Benchmark: how fast monitoring gets in. Events accepted by the PagerDuty Events v2 endpoint
and heartbeat pings per second, each against the same server answering a static route, and the
time from an event accepted to its incident stored.

The app runs under uvicorn in its own process on 127.0.0.1 on the example binder; the baseline
is `GET /healthz` (a constant JSON answer, no store) of that same process. Phases: triggers with
a new dedup key each (every one opens an incident), triggers repeating one dedup key (each adds
an occurrence), and successful pings of one heartbeat. Then, one at a time, events are sent and
the store is read right after each 202 to see the incident is there. Loopback only; threads with
keep-alive connections, a fixed time per phase.

Run: .venv/bin/python bench/intake.py [--seconds 10] [--concurrency 8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-intake-"))
os.environ["OPSBINDER_HOME"] = str(_HOME / "opsbinder")
os.environ["OPSBINDER_WEB_SECRET"] = "bench-secret"


PING = "5c1e8f7a-3b2d-4e6f-9a1c-2d7e4b8f0a13"  # the example's tms-pg-dump heartbeat
SERVER = """
import sys, uvicorn
from opsbinder.web import create_app
uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            access_log=False)
"""

Request = tuple[str, str, bytes, dict[str, str]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def seed(url: str) -> str:
    from opsbinder import accounts
    from opsbinder.clock import SystemClock
    from opsbinder.config.loader import load_binder
    from opsbinder.store.db import make_engine, session_scope
    from opsbinder.store.migrate import upgrade
    from opsbinder.sync import sync_binder

    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as s:
        sync_binder(s, load_binder(ROOT / "config" / "example"), SystemClock())
        key = accounts.issue_integration_key(
            s, SystemClock(), client_id="nordhafen", name="bench", actor="bench"
        ).token
    engine.dispose()
    return key


def event(key: str, dedup: str) -> bytes:
    return json.dumps(
        {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": dedup,
            "payload": {
                "summary": f"Disk almost full on tms-db-01 ({dedup})",
                "source": "tms-db-01",
                "severity": "warning",
                "component": "tms-db-01",
                "custom_details": {"free": "3%", "mount": "/var/lib/postgresql"},
            },
        }
    ).encode()


def load(
    port: int, next_request: Callable[[], Request], seconds: float, workers: int, ok: int
) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            method, path, body, headers = next_request()
            t0 = time.perf_counter()
            conn.request(method, path, body=body or None, headers=headers)
            response = response_of(conn)
            mine.append(time.perf_counter() - t0)
            bad += response != ok
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


def response_of(conn: http.client.HTTPConnection) -> int:
    response = conn.getresponse()
    response.read()
    return response.status


def accepted_to_stored(port: int, key: str, url: str, count: int) -> dict[str, float]:
    """Send events one by one; after each 202 read the store: is the incident there?"""
    from sqlalchemy import select

    from opsbinder.incidents.monitor_events import stored_key
    from opsbinder.store.db import make_engine, session_scope
    from opsbinder.store.models import Incident

    engine = make_engine(url)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    spans, missing = [], 0
    headers = {"Content-Type": "application/json"}
    for n in range(count):
        dedup = f"latency-{n}"
        t0 = time.perf_counter()
        conn.request("POST", "/v2/enqueue", body=event(key, dedup), headers=headers)
        assert response_of(conn) == 202
        with session_scope(engine) as s:
            found = s.execute(
                select(Incident.id).where(
                    Incident.dedup_key == stored_key("nordhafen", "pagerduty", dedup)
                )
            ).first()
        spans.append(time.perf_counter() - t0)
        missing += found is None
    conn.close()
    engine.dispose()
    return {
        "events": count,
        "missing_after_202": missing,
        "p50_ms": statistics.median(spans) * 1000,
        "p99_ms": percentile(spans, 0.99) * 1000,
    }


def main() -> int:
    import subprocess

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measured phase")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{_HOME / 'store.db'}"
    os.environ["OPSBINDER_DATABASE_URL"] = url
    key = seed(url)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT)
    counter = itertools.count()
    json_headers = {"Content-Type": "application/json"}
    phases: list[tuple[str, Callable[[], Request], int]] = [
        ("static route (baseline)", lambda: ("GET", "/healthz", b"", {}), 200),
        (
            "enqueue, new incident each",
            lambda: ("POST", "/v2/enqueue", event(key, f"new-{next(counter)}"), json_headers),
            202,
        ),
        (
            "enqueue, same dedup key",
            lambda: ("POST", "/v2/enqueue", event(key, "disk-full"), json_headers),
            202,
        ),
        ("ping, success", lambda: ("GET", f"/ping/{PING}", b"", {}), 200),
    ]
    results: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if response_of(conn) == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        for name, make, ok in phases:
            load(port, make, min(2.0, args.seconds / 4), args.concurrency, ok)  # warm-up
            results[name] = load(port, make, args.seconds, args.concurrency, ok)
        stored = accepted_to_stored(port, key, url, 200)
    finally:
        server.terminate()
        server.wait(10)

    print(f"\n{'':28} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} {'errors':>7}")
    for name, r in results.items():
        print(
            f"{name:28} {r['rps']:8.1f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
            f"{r['requests']:9d} {r['errors']:7d}"
        )
    static = results["static route (baseline)"]
    print(f"\nconcurrency {args.concurrency}, {args.seconds:.0f}s per phase, {url.split(':')[0]}")
    for name in list(results)[1:]:
        r = results[name]
        print(f"{name} / static: throughput {r['rps'] / static['rps']:.3f}x")
    print(
        f"event accepted -> incident stored ({stored['events']:.0f} events one at a time): "
        f"p50 {stored['p50_ms']:.1f} ms, p99 {stored['p99_ms']:.1f} ms, "
        f"missing right after the 202: {stored['missing_after_202']:.0f}"
    )
    failed = any(r["errors"] for r in results.values()) or stored["missing_after_202"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
