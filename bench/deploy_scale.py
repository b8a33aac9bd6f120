"""Benchmark: N clients x 20 procedures on one Prefect server on PostgreSQL (issue 16 item 6).

A real `prefect server start` in a subprocess on a scratch PostgreSQL database (its scheduler
off, so that only the runs made here exist), a scratch PostgreSQL store, N client folders of 20
no-op procedures each (the example client, its procedures replaced), loaded into the store.
(a) deploy: `orchestrator.deployments.apply` (what `opsbinder deploy` calls) into an empty
    server, against the baseline: the same deployments (flows, schedules, parameters, tags,
    work pool) created one by one with one Prefect client (`client.create_deployment`), flows
    loaded once per entrypoint, one at a time and 2 at once (as opsbinder sends them); then
    deleted again. HTTP requests are counted by method.
(b) redeploy with nothing changed: the requests it sends, writes (POST/PATCH/DELETE that are
    not reads: the filter and count endpoints are POST reads) separately.
(c) burst: B flow runs due at the same instant, executed by two process workers
    (`prefect worker start --type process`): B opsbinder procedure deployments, one run each,
    against B runs of a bare Prefect flow (bench/_bare.py); wall time from the due instant to
    the last run ending; every opsbinder run must be recorded once in the store, ok.
The issue's size is 200 clients (4,000 deployments) and B=500; the shared machine here runs
smaller sizes in minutes.

Run: .venv/bin/python bench/deploy_scale.py [--clients 10] [--burst 50] [--rounds 1] [--worker-limit N]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
ADMIN_URL = os.environ.get("OPSBINDER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
POOL = "bench-scale"
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-scale-"))

PROCEDURE = """
  - id: noop-{i:02d}
    name: No-op {i}
    kind: custom
    schedule: {{cron: "{minute} {hour} * * *", timezone: Europe/Berlin}}
    owner: tom-berger
    support_level: L2
    severity: sev4
    escalation_policy: standard
    grace: 2h
    runbook:
      purpose: Measures opsbinder's own cost at scale.
      steps: [Run the entrypoint]
      verify: The run is ok.
      rollback: Nothing to roll back.
    params: {{entrypoint: "bench._noop:noop"}}
"""


def scratch_database(purpose: str) -> tuple[str, str]:
    name = f"ob_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    with contextlib.closing(psycopg2.connect(ADMIN_URL)) as conn:
        conn.autocommit = True
        conn.cursor().execute(f'CREATE DATABASE "{name}"')
    return name, f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    with contextlib.closing(psycopg2.connect(ADMIN_URL)) as conn:
        conn.autocommit = True
        conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def binder(clients: int) -> Path:
    """A folder of `clients` client folders, each the example client with 20 no-ops."""
    root = _HOME / "binder"
    for c in range(clients):
        folder = root / f"client-{c:03d}"
        shutil.copytree(ROOT / "config" / "example", folder)
        client_yaml = folder / "client.yaml"
        client_yaml.write_text(
            client_yaml.read_text().replace("id: nordhafen", f"id: client-{c:03d}", 1)
        )
        (folder / "procedures.yaml").write_text(
            "procedures:\n"
            + "".join(
                PROCEDURE.format(i=i, minute=(c + i) % 60, hour=(c * 20 + i) % 24)
                for i in range(20)
            )
        )
        (folder / "calendar.yaml").write_text("maintenance_windows: []\nholidays: []\n")
        (folder / "monitoring.yaml").unlink()  # heartbeat uuids are unique across clients
    return root


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Requests:
    """Every HTTP request the Prefect client sends in this process, by method and path."""

    READS = ("/filter", "/count", "/paginate", "/name/")

    def __init__(self) -> None:
        import httpx

        self.seen: collections.Counter[tuple[str, str]] = collections.Counter()
        original = httpx.AsyncHTTPTransport.handle_async_request
        counter = self

        async def counted(transport: Any, request: Any) -> Any:
            counter.seen[(request.method, request.url.path)] += 1
            return await original(transport, request)

        httpx.AsyncHTTPTransport.handle_async_request = counted  # type: ignore[method-assign]

    def take(self) -> tuple[int, list[tuple[str, str]]]:
        """(all requests, the writes among them) since the last take."""
        total = sum(self.seen.values())
        writes = [
            (m, p)
            for (m, p), n in self.seen.items()
            for _ in range(n)
            if m in ("POST", "PATCH", "PUT", "DELETE") and not any(r in p for r in self.READS)
        ]
        self.seen.clear()
        return total, writes


async def bare_create(specs: list[Any], at_once: int = 1) -> None:
    """The baseline: what a script on Prefect's client alone does for the same deployments,
    one at a time or `at_once` (opsbinder sends 2 at once)."""
    from prefect import Flow, get_client
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.utilities.callables import parameter_schema

    pull = [{"prefect.deployments.steps.set_working_directory": {"directory": str(ROOT)}}]
    gate = asyncio.Semaphore(at_once)
    async with get_client() as client:
        flows: dict[str, tuple[Any, dict[str, Any]]] = {}
        for spec in specs:
            if spec.entrypoint not in flows:
                flow = await Flow.afrom_source(source=str(ROOT), entrypoint=spec.entrypoint)
                schema = parameter_schema(flow).model_dump(exclude_unset=True)
                flows[spec.entrypoint] = (await client.create_flow_from_name(flow.name), schema)

        async def one(spec: Any) -> None:
            flow_id, schema = flows[spec.entrypoint]
            schedules = [
                DeploymentScheduleCreate(
                    schedule=CronSchedule(cron=s.cron, timezone=s.timezone)
                    if s.cron
                    else IntervalSchedule(
                        interval=timedelta(seconds=s.interval_seconds or 60), timezone=s.timezone
                    ),
                    active=s.active,
                    slug=s.slug,
                )
                for s in spec.schedules
            ]
            async with gate:
                await client.create_deployment(
                    flow_id=flow_id, name=spec.name, schedules=schedules, work_pool_name=POOL,
                    parameters=spec.parameters, tags=list(spec.tags), entrypoint=spec.entrypoint,
                    description=spec.description, parameter_openapi_schema=schema,
                    pull_steps=pull, paused=spec.paused, enforce_parameter_schema=True,
                )  # fmt: skip

        await asyncio.gather(*(one(spec) for spec in specs))


async def delete_all() -> None:
    from prefect import get_client

    async with get_client() as client:
        while page := await client.read_deployments(limit=200):
            for dep in page:
                await client.delete_deployment(dep.id)


async def burst(deployment_ids: list[Any], side: str) -> tuple[float, list[str]]:
    """One run of each deployment, all due at once; the wall time from their release until the
    last is final, and the runs' ids.

    The work pool is paused while the runs are created and resumed when all exist: created one
    request at a time while the workers already ran the first ones, 500 runs took 43 minutes to
    create on this machine and the bench timed the creation loop, not the burst.
    """
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolUpdate
    from prefect.states import Scheduled

    async with get_client() as client:
        await client.update_work_pool(POOL, WorkPoolUpdate(is_paused=True))
        due = datetime.now(UTC)
        runs = [
            await client.create_flow_run_from_deployment(d, state=Scheduled(scheduled_time=due))
            for d in deployment_ids
        ]
        ids = [r.id for r in runs]
        created = (datetime.now(UTC) - due).total_seconds()
        released = datetime.now(UTC)
        await client.update_work_pool(POOL, WorkPoolUpdate(is_paused=False))
        while True:
            await asyncio.sleep(1)
            states = await _states(client, ids)  # a page a request: not 500 reads a second
            if all(s is not None and s.is_final() for s in states):
                break
        finished = datetime.now(UTC)
        bad = [s.name for s in states if s is not None and not s.is_completed()]
        print(f"  {side}: {len(ids)} runs created in {created:.1f}s with the pool paused")
        if bad:
            print(f"  {side}: not completed: {collections.Counter(bad)}")
    return (finished - released).total_seconds(), [str(i) for i in ids]


async def _states(client: Any, ids: list[Any]) -> list[Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    found: dict[Any, Any] = {}
    for start in range(0, len(ids), 200):
        page = ids[start : start + 200]
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page)), limit=200
        )
        found.update((r.id, r.state) for r in runs)
    return [found.get(i) for i in ids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--burst", type=int, default=50, help="0: no burst")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--burst-only",
        action="store_true",
        help="skip (a)'s baselines and (b): deploy once with opsbinder, then the burst",
    )
    parser.add_argument(
        "--worker-limit",
        type=int,
        default=0,
        help="each worker's --limit of concurrent flow runs (0: none, Prefect's default). A "
        "process worker starts every due run at once: ~130 MB each, so a burst of 500 needs a "
        "limit on a machine with less than ~65 GB free",
    )
    args = parser.parse_args()
    # a SIGTERM (someone stopping the bench) runs the `finally` below: without it the server and
    # the workers, each in its own session, outlived the bench and kept a core busy
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    server_db, server_url = scratch_database("prefect")
    store_db, store_url = scratch_database("store")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(_HOME / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_SERVER_DATABASE_CONNECTION_URL=server_url.replace(
            "postgresql://", "postgresql+asyncpg://"
        ),
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        # the default pool (5 + 10 overflow) times out under a burst on this loaded machine
        PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE="20",
        PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW="20",
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL="WARNING",
        PREFECT_WORKER_QUERY_SECONDS="1",
        OPSBINDER_DATABASE_URL=store_url.replace("postgresql://", "postgresql+psycopg2://"),
        OPSBINDER_HOME=str(_HOME / "opsbinder"),
    )
    os.environ.update(env)
    server = start(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env,
        _HOME / "server.log",
    )
    workers: list[subprocess.Popen[bytes]] = []
    try:
        return measure(args, env, workers)
    finally:
        for proc in [*workers, server]:
            stop(proc)
        drop_database(server_db)
        drop_database(store_db)
        shutil.rmtree(_HOME, ignore_errors=True)


def measure(
    args: argparse.Namespace, env: dict[str, str], workers: list[subprocess.Popen[bytes]]
) -> int:

    from opsbinder.clock import SystemClock
    from opsbinder.config.loader import load_binder
    from opsbinder.orchestrator import deployments as orch
    from opsbinder.store.db import default_engine, session_scope
    from opsbinder.store.migrate import upgrade
    from opsbinder.sync import sync_binder

    deadline = time.monotonic() + 300
    while not orch.healthy(env["PREFECT_API_URL"]):
        if time.monotonic() > deadline:
            print((_HOME / "server.log").read_text()[-3000:])
            return 1
        time.sleep(1)
    engine = default_engine()
    upgrade(engine)
    began = time.perf_counter()
    loaded = load_binder(binder(args.clients))
    with session_scope(engine) as s:
        sync_binder(s, loaded, SystemClock())
    specs = orch.binder_deployments(engine)
    print(f"{args.clients} clients: {len(specs)} deployments, validate + load "
          f"{time.perf_counter() - began:.1f}s")  # fmt: skip
    orch.ensure_process_pool(POOL)
    # warm-up, untimed: every entrypoint's flow imported and one deployment of it made once
    asyncio.run(bare_create(list({s.entrypoint: s for s in specs}.values())))
    asyncio.run(delete_all())
    if args.burst_only:
        orch.apply(specs, work_pool=POOL)
        return _burst(args, env, workers, engine)
    counted = Requests()
    sides = {
        "bare Prefect client": lambda: asyncio.run(bare_create(specs)),
        "bare, 2 at once": lambda: asyncio.run(bare_create(specs, at_once=2)),
        "opsbinder deploy": lambda: orch.apply(specs, work_pool=POOL),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    sent: dict[str, int] = {}
    for r in range(args.rounds):  # alternating order: the load drifts during a run
        for name in list(sides) if r % 2 == 0 else list(sides)[::-1]:
            began = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - began)
            sent[name] = counted.take()[0]
            asyncio.run(delete_all())
            counted.take()
    orch.apply(specs, work_pool=POOL)
    counted.take()
    n = len(specs)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n(a) deploy {n} deployments, {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for name, values in times.items():
        print(f"  {name:20} median {median[name]:6.1f}s  {sent[name] / n:5.2f} requests/"
              f"deployment  runs {[round(v, 1) for v in values]}")  # fmt: skip
    ours = median["opsbinder deploy"]
    print(f"  opsbinder / bare: {ours / median['bare Prefect client']:.2f}x, "
          f"/ bare 2 at once: {ours / median['bare, 2 at once']:.2f}x")  # fmt: skip

    began = time.perf_counter()
    again = orch.apply(specs, work_pool=POOL)
    again_s = time.perf_counter() - began
    again_requests, again_writes = counted.take()
    assert len(again.unchanged) == len(specs), again

    print(f"(b) redeploy, nothing changed: {again_s:.1f}s, {again_requests} requests, "
          f"{len(again_writes)} writes {collections.Counter(again_writes).most_common(5)}")  # fmt: skip

    if args.burst == 0:
        return 0
    return _burst(args, env, workers, engine)


def _burst(
    args: argparse.Namespace,
    env: dict[str, str],
    workers: list[subprocess.Popen[bytes]],
    engine: Any,
) -> int:
    from sqlalchemy import func, select

    from opsbinder.orchestrator import deployments as orch
    from opsbinder.store.db import session_scope
    from opsbinder.store.models import Run

    # (c) the burst: two process workers, warm before the runs are due
    for w in range(2):
        workers.append(start(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process",
             "--name", f"bench-worker-{w}",
             *(["--limit", str(args.worker_limit)] if args.worker_limit else [])],
            env, _HOME / f"worker-{w}.log",
        ))  # fmt: skip
    procedures = [d for d in orch.read_ours() if d.tag_value("procedure")][: args.burst]
    assert len(procedures) == args.burst, f"only {len(procedures)} procedure deployments"
    bare_spec = procedures[0].__class__(
        flow_name="bench-bare-noop", name="burst", entrypoint="bench/_bare.py:bare_noop",
        tags=(), schedules=(),
    )  # fmt: skip
    asyncio.run(bare_create([bare_spec]))

    async def bare_id() -> Any:
        from prefect import get_client

        async with get_client() as client:
            return (await client.read_deployment_by_name("bench-bare-noop/burst")).id

    bare_wall, _ = asyncio.run(burst([asyncio.run(bare_id())] * args.burst, "bare"))
    ours_wall, run_ids = asyncio.run(
        burst([uuid.UUID(d.id) for d in procedures if d.id], "opsbinder")
    )
    with session_scope(engine) as s:
        recorded = s.execute(
            select(Run.flow_run_id, Run.outcome, func.count())
            .where(Run.flow_run_id.in_(run_ids))
            .group_by(Run.flow_run_id, Run.outcome)
        ).all()
    once_ok = sum(1 for _, outcome, count in recorded if count == 1 and outcome == "ok")
    print(f"(c) burst of {args.burst} runs due at once, 2 process workers, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"  bare Prefect flows   {bare_wall:7.1f}s")
    print(f"  opsbinder procedures {ours_wall:7.1f}s")
    print(f"  opsbinder / bare: {ours_wall / bare_wall:.2f}x")
    print(f"  recorded in the store: {len(recorded)} of {args.burst} runs, {once_ok} once and ok; "
          f"missed {args.burst - len({r[0] for r in recorded})}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
