"""Benchmark: how fast a failing flow becomes a stored incident, and that incident a webhook.

For N failures (default 200) of a procedure flow carrying opsbinder's state hooks, run against
a real Prefect API (the test harness, heartbeats off) and a real store:
- baseline: wall time of the same failing flow run without hooks (call to return);
- end -> stored: from the flow body raising to the failure hook having committed the incident
  (Prefect's state handling, the hook's log-line read from the API, the store transaction);
- stored -> webhook: from there to the signed webhook arriving at a receiver on 127.0.0.1,
  sent by the same hook (opsbinder.incidents.first_page: that incident's escalation step and
  its outbox rows), no sweep involved. bench/paging_latency.py measures the same under
  `opsbinder serve`, scheduling included. Each incident is resolved after it paged, so every
  failure opens (and pages) a new one.

Run: .venv/bin/python bench/incident_latency.py [--failures 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-"))
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
os.environ["OPSBINDER_HOME"] = str(_HOME / "opsbinder")

SECRET = "whsec_" + base64.b64encode(b"bench-secret-of-thirty-two-byte").decode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", type=int, default=200)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args()

    url = args.database_url or f"sqlite:///{_HOME / 'store.db'}"
    os.environ["OPSBINDER_DATABASE_URL"] = url

    from prefect import flow
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness
    from sqlalchemy import select

    from flows import hooks
    from opsbinder.clock import SystemClock
    from opsbinder.config.loader import load_binder
    from opsbinder.incidents import first_page, lifecycle
    from opsbinder.settings import get_settings
    from opsbinder.store.db import session_scope
    from opsbinder.store.models import Incident
    from opsbinder.sync import sync_binder
    from tests.notify.receiver import Receiver
    from tests.support.store import migrated_engine

    get_settings.cache_clear()
    engine = migrated_engine(url)
    clock = SystemClock()
    with session_scope(engine) as s:
        sync_binder(s, load_binder(ROOT / "config" / "example"), clock)
    receiver = Receiver(secret=SECRET)
    os.environ["OPSBINDER_PAGER_WEBHOOK_URL"] = receiver.url
    os.environ["OPSBINDER_PAGER_WEBHOOK_SECRET"] = SECRET

    marks: dict[str, float] = {}
    page = first_page.page

    def timed_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        marks["stored"] = time.perf_counter()  # the hook pages once the incident is committed
        return page(*args, **kwargs)

    first_page.page = timed_page  # type: ignore[assignment]

    @flow(name="bench-failing-procedure", on_failure=[hooks.on_failure])
    def failing(client_id: str, procedure_id: str) -> None:
        marks["body_end"] = time.perf_counter()
        raise RuntimeError("no dump newer than 26h")

    @flow(name="bench-failing-procedure-without-hooks")
    def failing_plain(client_id: str, procedure_id: str) -> None:
        raise RuntimeError("no dump newer than 26h")

    run_s, to_store, to_hook = [], [], []
    print(f"store: {engine.dialect.name}; starting the Prefect test harness ...", flush=True)
    with (
        prefect_test_harness(server_startup_timeout=180),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        for i in range(args.failures + 5):  # the first 5 warm up and are not counted
            marks.clear()
            arrived_before = len(receiver.arrivals)
            t0 = time.perf_counter()
            failing_plain(client_id="nordhafen", procedure_id="check-tms-backup", return_state=True)
            t1 = time.perf_counter()
            failing(client_id="nordhafen", procedure_id="check-tms-backup", return_state=True)
            if len(receiver.arrivals) <= arrived_before:
                raise SystemExit(f"failure {i}: no webhook arrived")
            with session_scope(engine) as s:
                inc = s.execute(select(Incident).where(Incident.state != "resolved")).scalar_one()
                lifecycle.resolve(s, clock, inc.id, actor="bench")
            if i < 5:
                continue
            run_s.append(t1 - t0)
            to_store.append(marks["stored"] - marks["body_end"])
            to_hook.append(receiver.arrivals[arrived_before] - marks["stored"])
    receiver.stop()
    if receiver.bad_signatures:
        raise SystemExit(f"{receiver.bad_signatures} webhooks with a bad signature")

    def row(name: str, values: list[float]) -> str:
        med, p99 = statistics.median(values), percentile(values, 0.99)
        base = statistics.median(run_s)
        return f"| {name} | {med * 1000:.1f} | {p99 * 1000:.1f} | {med / base:.2f}x |"

    print(f"\n{args.failures} failures, store {engine.dialect.name}, Prefect test harness")
    print("| measure | median ms | p99 ms | median / flow run |")
    print("| --- | --- | --- | --- |")
    print(row("failing flow run without hooks (baseline)", run_s))
    print(row("flow end -> incident stored", to_store))
    print(row("incident stored -> webhook received", to_hook))
    print(
        row("flow end -> webhook received", [a + b for a, b in zip(to_store, to_hook, strict=True)])
    )
    shutil.rmtree(_HOME, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
