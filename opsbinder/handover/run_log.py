"""The export's run log (`runs.json`): every real run of the client's procedures in the last
year, one record each, for machines. The history page shows months of counts to a person; a
successor's shadow report (`binder shadow-report`) needs the runs themselves, slot by slot.

Only real runs are in it (no previews, no third-party verifications): it is the evidence of the
work the outgoing provider did. A run's `rows` is what it found to do (`planned_rows` of purge
and archive), so a successor's dry run of the same slot can be held against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import utc
from opsbinder.errors import BadInput
from opsbinder.handover.dossier import real_runs
from opsbinder.store.models import Procedure, Run

FILE = "runs.json"
SPAN = timedelta(days=366)


@dataclass(frozen=True)
class LoggedRun:
    procedure: str
    scheduled_for: datetime | None  # None: run by hand
    started_at: datetime
    outcome: str
    rows: int | None
    summary: str


@dataclass(frozen=True)
class RunLog:
    client: str
    generated_at: datetime
    runs: list[LoggedRun]


def rows_of(metrics: dict[str, Any] | None) -> int | None:
    value = (metrics or {}).get("planned_rows")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _when(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


def document(session: Session, client_id: str, now: datetime) -> dict[str, Any]:
    """The run log of one client as written to the export, oldest run first."""
    found = session.execute(
        real_runs(select(Run, Procedure.key, Procedure.kind))
        .join(Procedure, Procedure.id == Run.procedure_id)
        .where(Run.client_id == client_id, Run.started_at >= now - SPAN, Run.outcome != "running")
        .order_by(Run.started_at, Run.id)
    )
    return {
        "client": client_id,
        "generated_at": utc(now).isoformat(),
        "since": utc(now - SPAN).isoformat(),
        "runs": [
            {
                "procedure": key,
                "kind": kind,
                "scheduled_for": _when(run.scheduled_for),
                "started_at": _when(run.started_at),
                "ended_at": _when(run.ended_at),
                "outcome": run.outcome,
                "rows": rows_of(run.metrics),
                "summary": run.reason or (run.metrics or {}).get("summary", ""),
                "actor": run.actor,
            }
            for run, key, kind in found
        ],
    }


def read(folder: Path) -> RunLog:
    """The run log of an export folder; a bad one names the file, the field and the value."""
    from opsbinder.handover.export import MARKER

    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder")
    if not (folder / MARKER).is_file():
        raise BadInput(f"{folder} is not an opsbinder export (no {MARKER} in it)")
    path = folder / FILE
    if not path.is_file():
        raise BadInput(f"{path}: missing; the export predates run logs: ask for a fresh export")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise BadInput(f"{path}: runs: expected a list of runs")
    client = data.get("client")
    if not isinstance(client, str) or not client:
        raise BadInput(f"{path}: client: expected a client id, got {client!r}")
    generated = _instant(path, "generated_at", data.get("generated_at"))
    runs = [_run(path, n, item) for n, item in enumerate(data["runs"])]
    return RunLog(client, generated, runs)


def _instant(path: Path, where: str, value: object) -> datetime:
    try:
        if not isinstance(value, str):
            raise ValueError
        at = datetime.fromisoformat(value)
        if at.tzinfo is None:
            raise ValueError
        return utc(at)
    except ValueError:
        raise BadInput(
            f"{path}: {where}: expected an ISO time with its offset, got {value!r}"
        ) from None


def _run(path: Path, n: int, item: object) -> LoggedRun:
    where = f"runs[{n}]"
    if not isinstance(item, dict):
        raise BadInput(f"{path}: {where}: expected an object, got {item!r}")
    procedure, outcome, rows = item.get("procedure"), item.get("outcome"), item.get("rows")
    if not isinstance(procedure, str) or not procedure:
        raise BadInput(f"{path}: {where}.procedure: expected a procedure id, got {procedure!r}")
    if not isinstance(outcome, str) or not outcome:
        raise BadInput(f"{path}: {where}.outcome: expected an outcome, got {outcome!r}")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
        raise BadInput(f"{path}: {where}.rows: expected a row count or null, got {rows!r}")
    slot = item.get("scheduled_for")
    return LoggedRun(
        procedure=procedure,
        scheduled_for=None if slot is None else _instant(path, f"{where}.scheduled_for", slot),
        started_at=_instant(path, f"{where}.started_at", item.get("started_at")),
        outcome=outcome,
        rows=rows,
        summary=str(item.get("summary") or ""),
    )
