"""Benchmark: a daily bundle of 100 no-op procedures against bare Prefect running 100 no-op
subflows the same way.

The bundle is opsbinder's own path (`opsbinder run --bundle daily` calls it): one parent flow, each
procedure a subflow that loads its procedure, takes its lock, records the run start and end in
the store, publishes its artifact. The baseline is a bare Prefect flow calling 100 subflows that
do nothing, in the same process, on the same Prefect API (the ephemeral one, as `make demo`
uses). Both are warmed up once, then run alternately; the median of the repeats is compared.

Run: .venv/bin/python bench/bundle.py [--procedures 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_HOME = Path(tempfile.mkdtemp(prefix="opsbinder-bench-bundle-"))
os.environ["OPSBINDER_HOME"] = str(_HOME / "opsbinder")
os.environ["OPSBINDER_DATABASE_URL"] = f"sqlite:///{_HOME / 'store.db'}"
os.environ["PREFECT_HOME"] = str(_HOME / "prefect")
os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

NOOP = """
  - id: noop-{i:03d}
    name: No-op {i}
    kind: custom
    schedule: {{cron: "0 4 * * *", timezone: Europe/Berlin}}
    owner: tom-berger
    support_level: L2
    severity: sev4
    escalation_policy: standard
    grace: 2h
    runbook:
      purpose: Measures the bundle's own cost.
      steps: [Run the entrypoint]
      verify: The run is ok.
      rollback: Nothing to roll back.
    params: {{entrypoint: "bench._noop:noop"}}
"""


def binder(procedures: int) -> Path:
    """The example client with its procedures replaced by `procedures` no-ops (references to
    the example's own procedures in its calendar go with them)."""
    folder = _HOME / "binder"
    shutil.copytree(ROOT / "config" / "example", folder)
    (folder / "procedures.yaml").write_text(
        "procedures:\n" + "".join(NOOP.format(i=i) for i in range(procedures)), encoding="utf-8"
    )
    calendar = folder / "calendar.yaml"
    calendar.write_text("maintenance_windows: []\nholidays: []\n", encoding="utf-8")
    return folder


def load(folder: Path) -> str:
    from opsbinder.clock import SystemClock
    from opsbinder.config.loader import load_binder
    from opsbinder.store.db import default_engine, session_scope
    from opsbinder.store.migrate import upgrade
    from opsbinder.sync import sync_binder

    engine = default_engine()
    upgrade(engine)
    loaded = load_binder(folder)
    with session_scope(engine) as s:
        sync_binder(s, loaded, SystemClock())
    return loaded.clients[0].client.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procedures", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--heartbeats",
        choices=("on", "off"),
        default="off",
        help="Prefect's flow-run heartbeats (on: its default, 180 s; every sync flow run, bare or "
        "not, then waits up to a second for the heartbeat thread to stop, which dominates both "
        "sides; off: the harness's setting, so the figure is the bundle's own cost)",
    )
    args = parser.parse_args()
    from opsbinder.orchestrator.local import prefect_defaults

    prefect_defaults()
    client_id = load(binder(args.procedures))

    from prefect import flow

    from opsbinder.orchestrator.local import heartbeats_off

    settings = ExitStack()  # held to the end: a context left to the collector would be exited
    if args.heartbeats == "off":
        settings.enter_context(heartbeats_off())

    from opsbinder.orchestrator.local import run_bundle

    @flow(name="bare-noop")
    def bare_noop(i: int) -> None:
        return None

    @flow(name="bare-bundle")
    def bare_bundle(n: int) -> None:
        for i in range(n):
            bare_noop(i)

    def bundle() -> None:
        outcomes = run_bundle(client_id, "daily", actor="bench")
        assert len(outcomes) == args.procedures, len(outcomes)
        assert all(o.outcome == "ok" for o in outcomes), {o.outcome for o in outcomes}

    def bare() -> None:
        bare_bundle(args.procedures)

    def timed(run: object) -> float:
        began = time.perf_counter()
        run()  # type: ignore[operator]
        return time.perf_counter() - began

    t0 = time.perf_counter()
    bare_bundle(2)  # starts the ephemeral API and warms Prefect up
    print(f"ephemeral API up and warm in {time.perf_counter() - t0:.1f}s")
    timed(bundle)
    times: dict[str, list[float]] = {"bare Prefect": [], "opsbinder bundle": []}
    for _ in range(args.repeats):
        times["bare Prefect"].append(timed(bare))
        times["opsbinder bundle"].append(timed(bundle))
    load_avg = os.getloadavg()[0]
    print(
        f"\n{args.procedures} no-op procedures, {args.repeats} repeats, heartbeats "
        f"{args.heartbeats}, load {load_avg:.1f}"
    )
    for name, values in times.items():
        print(f"{name:18} median {statistics.median(values):6.2f}s  runs {values}")
    ratio = statistics.median(times["opsbinder bundle"]) / statistics.median(times["bare Prefect"])
    print(f"opsbinder bundle / bare Prefect: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
