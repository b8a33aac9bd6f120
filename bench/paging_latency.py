"""Benchmark: from a procedure failing to its first page on a webhook, under `opsbinder serve`
or on a Prefect server with a worker, every scheduling wait included.

`--mode serve` (default): `opsbinder serve` runs in a subprocess as a user starts it (its own
local Prefect server, the example binder). `--mode worker`: a `prefect server` (SQLite), a
process work pool, `opsbinder deploy` and a `prefect worker`, each a subprocess. The store is a
SQLite file (or --database-url), the pager webhook points at a receiver in this process that
verifies every signature. N times (default 20) a run of the backup check is created through the
Prefect API; it fails (its backup folder is empty); the script waits for the L1 page, then
resolves the incident, so the next failure opens (and pages) a new one.
- measured: the run's Failed state (Prefect's timestamp) -> the page accepted by the receiver;
- baseline, the same failures: Failed -> the end of the first sweep run that started after it,
  i.e. when the minutely sweep would have paged it, as every page went before the failure hook
  paged by itself.
Both clocks are this machine's wall clock.

Run: .venv/bin/python bench/paging_latency.py [--failures 20] [--mode serve|worker]
     [--database-url URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXE = str(Path(sys.executable).parent / "opsbinder")
PREFECT = str(Path(sys.executable).parent / "prefect")
BINDER = ROOT / "config" / "example"
POOL = "bench-paging"
DEPLOYMENT = "nordhafen.check-tms-backup"
DEDUP = "nordhafen/check-tms-backup"
SECRET = "whsec_" + base64.b64encode(b"bench-paging-secret-of-32-bytes!").decode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(url: str, body: dict[str, Any]) -> Any:
    try:
        answer = requests.post(url, json=body, timeout=30)
    except requests.RequestException:
        return None
    return answer.json() if answer.ok else None


def _runs(api: str, deployment: str) -> list[dict[str, Any]]:
    body = {"deployments": {"name": {"any_": [deployment]}}, "sort": "EXPECTED_START_TIME_ASC"}
    return list(_post(f"{api}/flow_runs/filter", body) or [])


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _until(
    what: str, ready: Any, procs: list[subprocess.Popen[bytes]], log: Path, limit: float
) -> Any:
    deadline = time.monotonic() + limit
    while not (found := ready()):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            raise SystemExit(f"waited for {what}\n" + log.read_text()[-3000:])
        time.sleep(0.2)
    return found


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _serve(env: dict[str, str], port: int, log: Path) -> list[subprocess.Popen[bytes]]:
    return [_start([EXE, "serve", "-c", str(BINDER), "--port", str(port)], env, log)]


def _worker(env: dict[str, str], port: int, log: Path) -> list[subprocess.Popen[bytes]]:
    """A Prefect server, a process pool with the binder deployed to it, a worker polling it."""
    env.update(
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
    )
    server = _start(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, log
    )
    procs = [server]
    _until("the Prefect server", lambda: _healthy(env["PREFECT_API_URL"]), procs, log, 300)
    for cmd in (
        [PREFECT, "work-pool", "create", POOL, "--type", "process"],
        [EXE, "deploy", "-c", str(BINDER), "--work-pool", POOL],
    ):
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            _stop(server)
            raise SystemExit(f"{' '.join(cmd[1:3])} failed:\n{done.stdout}{done.stderr}")
    procs.append(
        _start([PREFECT, "worker", "start", "--pool", POOL, "--type", "process"], env, log)
    )
    return procs


def _healthy(api: str) -> bool:
    try:
        return requests.get(f"{api}/health", timeout=5).ok
    except requests.RequestException:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=20)
    parser.add_argument("--mode", choices=("serve", "worker"), default="serve")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()

    from sqlalchemy import select

    from opsbinder.clock import SystemClock
    from opsbinder.incidents import lifecycle
    from opsbinder.store.db import engine_for, session_scope
    from opsbinder.store.models import Incident
    from tests.notify.receiver import Receiver

    home = Path(tempfile.mkdtemp(prefix="opsbinder-paging-"))
    (home / "backups").mkdir()
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    store_url = args.database_url or f"sqlite:///{home / 'store.db'}"
    receiver = Receiver(secret=SECRET)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        OPSBINDER_DATABASE_URL=store_url,
        OPSBINDER_HOME=str(home / "opsbinder"),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",
        NORDHAFEN_BACKUP_DIR=str(home / "backups"),
        OPSBINDER_PAGER_WEBHOOK_URL=receiver.url,
        OPSBINDER_PAGER_WEBHOOK_SECRET=SECRET,
    )
    log = home / f"{args.mode}.log"
    load_before = os.getloadavg()
    print(f"starting {args.mode} mode ...", flush=True)
    procs = (_serve if args.mode == "serve" else _worker)(env, port, log)
    engine = engine_for(store_url)
    to_page: list[float] = []
    failures: list[datetime] = []
    try:
        deployment = _until(
            "the backup check's deployment",
            lambda: _post(
                f"{api}/deployments/filter", {"deployments": {"name": {"any_": [DEPLOYMENT]}}}
            ),
            procs,
            log,
            300,
        )[0]
        for i in range(args.failures + 2):  # the first 2 warm up and are not counted
            seen = set(receiver.accepted)
            _until(  # a loaded server may time a request out: ask again
                f"run {i} created",
                lambda: _post(f"{api}/deployments/{deployment['id']}/create_flow_run", {}),
                procs,
                log,
                120,
            )

            def page(seen: set[str] = seen) -> tuple[str, dict[str, Any]] | None:
                fresh = [(k, b) for k, b in receiver.accepted.items() if k not in seen]
                return next((p for p in fresh if p[1]["incident"]["dedup_key"] == DEDUP), None)

            key, body = _until(f"page {i}", page, procs, log, 300)
            arrived = datetime.fromtimestamp(receiver.accepted_at[key], UTC)
            with session_scope(engine) as s:
                incident = lifecycle.get(s, body["incident"]["id"])
                flow_run_id = incident.flow_run_id
                for open_one in s.scalars(select(Incident).where(Incident.state != "resolved")):
                    lifecycle.resolve(s, SystemClock(), open_one.id, actor="bench")
            run = requests.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
            failed = datetime.fromisoformat(run["state"]["timestamp"])
            if i >= 2:
                to_page.append((arrived - failed).total_seconds())
                failures.append(failed)
            print(f"  {i}: failure -> page {(arrived - failed).total_seconds():.2f} s", flush=True)

        def sweep_ends() -> list[tuple[datetime, datetime]] | None:
            done = [
                (_instant(r.get("start_time")), _instant(r.get("end_time")))
                for r in _runs(api, "sweep")
            ]
            ends = [(s, e) for s, e in done if s and e]
            return ends if ends and max(s for s, _ in ends) > failures[-1] else None

        print("waiting for the sweep after the last failure ...", flush=True)
        sweeps = _until("a sweep after the last failure", sweep_ends, procs, log, 180)
        by_sweep = [min((e for s, e in sweeps if s > failed), default=None) for failed in failures]
        baseline = [
            (end - failed).total_seconds()
            for end, failed in zip(by_sweep, failures, strict=True)
            if end is not None
        ]
    finally:
        receiver.stop()
        for proc in reversed(procs):
            _stop(proc)
    if receiver.bad_signatures or sum(receiver.duplicates.values()):
        raise SystemExit("a page with a bad signature, or one delivered twice")
    load_after = os.getloadavg()

    def row(name: str, values: list[float]) -> str:
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        b50, b99 = statistics.median(baseline), percentile(baseline, 0.99)
        return f"| {name} | {p50:.2f} | {p99:.2f} | {p50 / b50:.2f}x | {p99 / b99:.2f}x |"

    where = "`opsbinder serve`" if args.mode == "serve" else "a Prefect server with a worker"
    print(
        f"\n{len(to_page)} failures under {where}, store {engine.dialect.name}, 2 warm-ups dropped"
    )
    print(f"load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    print("| failure -> | p50 s | p99 s | p50 / baseline | p99 / baseline |")
    print("| --- | --- | --- | --- | --- |")
    print(row("the next sweep's end (baseline: paging by the sweep)", baseline))
    print(row("first L1 page received (the failure hook pages)", to_page))
    print(f"max {max(to_page):.2f} s; target: p99 <= 5 s")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
