"""Fixtures of the handover tests: the example client in the store, with a past to show."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from opsbinder import runs
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder, ClientBinder
from opsbinder.incidents import lifecycle
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from tests.conftest import EXAMPLE

Mutate = Callable[[dict[str, Any]], None]

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("headless Chromium missing: apt-get install -y chromium (see Makefile)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def fix_in(file: str, located: str, folder: Path = EXAMPLE) -> str:
    """Where a finding sends the reader: the file and the line the item starts on there."""
    item = re.match(r"[a-z_]+\[([^\]]+)\]", located)
    if item is None:
        return f"{file} · {located}"
    rows = (folder / file).read_text(encoding="utf-8").splitlines()
    pattern = re.compile(rf"(- |{{)id: {re.escape(item.group(1))}\b")
    line = next(n for n, row in enumerate(rows, 1) if pattern.search(row))
    return f"{file}:{line} · {located}"


def load_variant(engine: Engine, clock: FrozenClock, example_dir: Path, mutate: Mutate | None):
    """Sync the example binder into the store, changed first by `mutate` (a broken binder)."""
    client = load_binder(example_dir).clients[0]
    data = client.model_dump(mode="json", by_alias=True)
    if mutate:
        mutate(data)
    variant = ClientBinder.model_validate(data)
    with session_scope(engine) as session:
        sync_binder(session, Binder(clients=[variant]), clock)
    return variant


def add_run(
    engine: Engine,
    clock: FrozenClock,
    key: str,
    outcome: str,
    ago: timedelta,
    reason: str = "",
    flow_run_id: str | None = None,
) -> int:
    at = FrozenClock(clock.now() - ago)
    with session_scope(engine) as session:
        run = runs.start_run(
            session,
            at,
            client_id="nordhafen",
            procedure_key=key,
            flow_run_id=flow_run_id,
            scheduled_for=at.now(),
        )
        status = "ok" if outcome == "ok" else "failed"
        runs.finish_run(session, at, run.id, ProcedureResult(status, reason or outcome))
        return run.id


@pytest.fixture
def loaded(store: Engine, clock: FrozenClock, example_dir: Path) -> Engine:
    """The example client, unchanged, in the store."""
    load_variant(store, clock, example_dir, None)
    return store


@pytest.fixture
def with_history(loaded: Engine, clock: FrozenClock) -> Engine:
    """A few months of runs, one failure with its open incident."""
    for days in range(1, 40, 3):
        add_run(loaded, clock, "purge-tracking-events", "ok", timedelta(days=days))
    for days in (100, 200, 300):
        add_run(loaded, clock, "check-tms-backup", "ok", timedelta(days=days))
    add_run(
        loaded,
        clock,
        "check-tms-backup",
        "failed",
        timedelta(hours=3),
        reason="newest backup is 3 days old",
        flow_run_id="0000aaaa-0000-0000-0000-000000000001",
    )
    with session_scope(loaded) as session:
        lifecycle.trigger(
            session,
            clock,
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup:failed",
            title="Check last night's TMS backup failed",
            severity="sev2",
            details={"reason": "newest backup is 3 days old"},
            flow_run_id="0000aaaa-0000-0000-0000-000000000001",
        )
    return loaded
