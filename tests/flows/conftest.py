"""A client `acme` loaded into the store with one procedure of each kind the flow tests run."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine

from opsbinder.clock import SystemClock
from opsbinder.procedures.context import ProcedureContext
from tests.procedures.binders import client_binder, load, procedure


def raises(ctx: ProcedureContext) -> None:
    raise ConnectionError("client database refused the connection")


def sleeps(ctx: ProcedureContext, *, seconds: float) -> dict[str, Any]:
    time.sleep(seconds)
    return {"slept": seconds}


def write_backups(folder: Path, newest_hours: float) -> None:
    now = datetime.now(UTC)
    for n, hours in enumerate((newest_hours + 48, newest_hours + 24, newest_hours)):
        path = folder / f"db-{n}.dump"
        path.write_bytes(b"x" * 1000)
        ts = (now - timedelta(hours=hours)).timestamp()
        os.utime(path, (ts, ts))


@pytest.fixture
def acme(store: Engine, prefect_api: None, tmp_path: Path) -> Iterator[Path]:
    backups = tmp_path / "backups"
    backups.mkdir()
    write_backups(backups, newest_hours=2)
    stale = tmp_path / "stale"
    stale.mkdir()
    write_backups(stale, newest_hours=80)
    inventory = {
        "id": "software",
        "type": "software_inventory",
        "items": [{"product": "Nginx", "version": "1", "end_of_support": "2020-01-01"}],
    }
    custom = "tests.flows.conftest:"
    daily = {"schedule": {"cron": "0 6 * * *", "timezone": "UTC"}}
    cb = client_binder(
        [
            {"id": "nas", "type": "backup_location", "path": str(backups), "pattern": "db-*.dump"},
            {
                "id": "old-nas",
                "type": "backup_location",
                "path": str(stale),
                "pattern": "db-*.dump",
            },
            inventory,
        ],
        [
            procedure(
                "check-backup", "backup_check", system="nas", params={"max_age": "26h"}, **daily
            ),
            procedure(
                "check-old-backup",
                "backup_check",
                system="old-nas",
                params={"max_age": "26h"},
                **daily,
            ),
            procedure("broken", "custom", params={"entrypoint": custom + "raises"}, **daily),
            procedure(
                "slow",
                "custom",
                timeout="1s",
                params={"entrypoint": custom + "sleeps", "arguments": {"seconds": 2}},
            ),
            procedure("remind", "update_reminder", system="software", cadence="weekly"),
            procedure("sign-off", "manual", cadence="weekly", runbook={"steps": ["look", "sign"]}),
            procedure("windowed", "manual", cadence="monthly"),
        ],
        maintenance_windows=[
            {
                "name": "upgrade",
                "start": "2020-01-01T00:00:00Z",
                "end": "2099-01-01T00:00:00Z",
                "procedures": ["windowed"],
            }
        ],
    )
    load(store, SystemClock(), cb)
    yield tmp_path


def artifacts(flow_run_id: str | UUID) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(str(flow_run_id))])
            )
        )
    return [a for a in found if a.type == "markdown"]
