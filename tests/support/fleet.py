"""Many clients in the store at once, for scale tests and bench/sweep_scale.py.

The example binder goes through the real sync path once; its client and scheduled procedures
are then cloned in bulk (INSERTs of the synced rows, procedure ids renamed past the example's
own so the binder's references still hold), with an `ok` run for every slot of the last days,
so a missed-run pass over them finds nothing missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents import lifecycle, missed_runs
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure, Run
from opsbinder.sync import sync_binder

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "config" / "example"
EXAMPLE = "nordhafen"


@dataclass(frozen=True)
class Template:
    client: dict[str, Any]
    procedures: list[dict[str, Any]]


def template(engine: Engine, created: datetime) -> Template:
    """The example client as synced, taken out of the store again to be cloned."""
    with session_scope(engine) as s:
        sync_binder(s, load_binder(EXAMPLE_DIR), FrozenClock(created))
        client = s.get(Client, EXAMPLE)
        assert client is not None
        c = {k: getattr(client, k) for k in ("name", "timezone", "definition", "config_hash")}
        cols = [col.key for col in Procedure.__table__.columns if col.key != "id"]
        rows = s.execute(
            select(Procedure)
            .where(Procedure.client_id == EXAMPLE, Procedure.active.is_(True))
            .order_by(Procedure.key)
        ).scalars()
        procs = [{k: getattr(r, k) for k in cols} for r in rows if r.cron]
        s.execute(delete(Procedure).where(Procedure.client_id == EXAMPLE))
        s.execute(delete(Client).where(Client.id == EXAMPLE))
    return Template(c, procs)


def add_clients(
    engine: Engine,
    tpl: Template,
    first: int,
    count: int,
    per_client: int,
    now: datetime,
    created: datetime,
) -> None:
    """Clients c0000.. with `per_client` procedures each and every slot before `now` run ok."""
    clients, rows = [], []
    for n in range(first, first + count):
        cid = f"c{n:04d}"
        clients.append({**tpl.client, "id": cid, "created_at": created, "updated_at": created})
        for p in range(per_client):
            t = tpl.procedures[p % len(tpl.procedures)]
            key = t["key"] if p < len(tpl.procedures) else f"{t['key']}-{p}"
            rows.append(
                {
                    **t,
                    "client_id": cid,
                    "key": key,
                    "definition": {**t["definition"], "id": key},
                    "created_at": created,
                    "updated_at": created,
                }
            )
    with session_scope(engine) as s:
        s.execute(insert(Client), clients)
        s.execute(insert(Procedure), rows)
        added = s.execute(
            select(Procedure.id, Procedure.client_id, Procedure.cron, Procedure.timezone).where(
                Procedure.client_id.in_([c["id"] for c in clients])
            )
        ).all()
        runs = [
            {
                "client_id": cid,
                "procedure_id": pid,
                "scheduled_for": slot,
                "started_at": slot + timedelta(seconds=3),
                "ended_at": slot + timedelta(seconds=40),
                "outcome": "ok",
                "actor": "scheduler",
            }
            for pid, cid, cron, zone in added
            for slot in missed_runs.fire_times(cron, zone, now - timedelta(days=4), now)
        ]
        for at in range(0, len(runs), 5000):
            s.execute(insert(Run), runs[at : at + 5000])


def open_incidents(engine: Engine, count: int, at: datetime, skip: int = 0, sev1: int = 0) -> None:
    """`count` incidents opened through the lifecycle, one per procedure in id order; the first
    `sev1` of them as Severity 1 (the cloned procedures are all scheduled, and the example's
    only Severity-1 procedure is on demand), so the update cadence has incidents to watch."""
    with session_scope(engine) as s:
        rows = s.execute(
            select(Procedure).order_by(Procedure.id).offset(skip).limit(count)
        ).scalars()
        for n, p in enumerate(rows):
            lifecycle.trigger(
                s,
                FrozenClock(at),
                client_id=p.client_id,
                procedure_key=p.key,
                dedup_key=f"{p.client_id}/{p.key}",
                title=f"{p.name}: failed",
                severity="sev1" if n < sev1 else p.severity,
                details={"state": "Failed", "error": "a scale test's failure"},
                actor="test",
            )
