"""`opsbinder serve` pages a failure from its failure hook, not from the next minutely sweep: with
the sweep paused, a failing backup check still reaches a webhook receiver in this process, and no
sweep run started between the failure and the page."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from opsbinder.clock import SystemClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import engine_for, session_scope
from opsbinder.store.models import Incident
from tests.deployments.conftest import failed_at, pause_deployment, started_between
from tests.deployments.test_serve_local import (
    _free_port,
    _runs,
    _state,
    _wait,
    start_serve,
    stop_serve,
)
from tests.notify.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"serve-pager-secret-of-32-bytes!!").decode()
pytestmark = [pytest.mark.slow, pytest.mark.prefect]


def _deployed(api: str, name: str) -> bool:
    try:
        found = requests.post(
            f"{api}/deployments/filter",
            json={"deployments": {"name": {"any_": [name]}}},
            timeout=10,
        )
    except requests.RequestException:
        return False
    return found.ok and bool(found.json())


def test_serve_pages_a_failure_with_the_sweep_paused(tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    receiver = Receiver(secret=SECRET)
    proc, log, env = start_serve(
        tmp_path,
        port,
        OPSBINDER_PAGER_WEBHOOK_URL=receiver.url,
        OPSBINDER_PAGER_WEBHOOK_SECRET=SECRET,
    )
    engine = engine_for(env["OPSBINDER_DATABASE_URL"])
    try:
        _wait("the sweep's deployment", lambda: _deployed(api, "sweep"), proc, log)
        pause_deployment(api, "sweep")  # from here on only the hook can page
        _wait(
            "no sweep run under way",
            lambda: not any(_state(r)[0] in {"RUNNING", "PENDING"} for r in _runs(api, "sweep")),
            proc,
            log,
        )
        with session_scope(engine) as s:  # a new incident: the next failure pages afresh
            for incident in s.scalars(select(Incident).where(Incident.state != "resolved")):
                lifecycle.resolve(s, SystemClock(), incident.id, actor="test")
        paged_before = set(receiver.accepted)

        def new_page() -> tuple[str, dict[str, Any]] | None:
            fresh = [(k, b) for k, b in receiver.accepted.items() if k not in paged_before]
            backup = [
                p for p in fresh if p[1]["incident"]["dedup_key"] == "nordhafen/check-tms-backup"
            ]
            return backup[0] if backup else None

        _wait("a page of a new incident", lambda: new_page() is not None, proc, log)
        found = new_page()
        assert found is not None
        key, page = found
        assert page["level_name"] == "L1 on-call"
        arrived = datetime.fromtimestamp(receiver.accepted_at[key], UTC)
        with session_scope(engine) as s:
            incident = s.get(Incident, page["incident"]["id"])
            assert incident is not None and incident.flow_run_id
            flow_run_id = incident.flow_run_id
        failed = failed_at(api, flow_run_id)
        assert failed < arrived
        assert not started_between(api, "sweep", failed, arrived)  # the hook paged
        assert receiver.bad_signatures == 0 and not sum(receiver.duplicates.values())
        print(f"failure -> page: {(arrived - failed).total_seconds():.2f} s")
    finally:
        receiver.stop()
        stop_serve(proc)
