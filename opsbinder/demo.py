"""The demo: a believable copy of the example client's systems on this machine.

The example binder names its systems by environment variables; the demo creates a SQLite TMS
database, a backup share (whose newest dump is stale on purpose), a data volume and an archive
share under one folder and points those variables at them.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
)

from opsbinder import environment
from opsbinder.clock import Clock

DEMO_ENV = {
    "NORDHAFEN_TMS_DB_URL": "tms.db",
    "NORDHAFEN_BACKUP_DIR": "backups",
    "NORDHAFEN_DATA_DIR": "data",
    "NORDHAFEN_ARCHIVE_DIR": "archive",
}

metadata = MetaData()
tracking_events = Table(
    "tracking_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("truck", String(16), nullable=False),
    Column("lat", String(16)),
    Column("lon", String(16)),
    Column("recorded_at", DateTime(timezone=True), nullable=False, index=True),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer", String(80), nullable=False),
    Column("destination", String(80)),
    Column("status", String(16), nullable=False),
    Column("delivered_at", DateTime(timezone=True), index=True),
)


@dataclass(frozen=True)
class DemoSystems:
    root: Path
    env: dict[str, str]


def demo_env(root: Path) -> dict[str, str]:
    env = {name: str(root / rel) for name, rel in DEMO_ENV.items()}
    env["NORDHAFEN_TMS_DB_URL"] = f"sqlite:///{root / 'tms.db'}"
    return env


def prepare_demo(
    root: Path, clock: Clock, *, rows: int = 20_000, seed: int = 7, history_days: int = 0
) -> DemoSystems:
    """Create (or top up) the demo systems and export their variables into this process; with
    `history_days`, data old enough for that many days of purges and archive runs before now."""
    root.mkdir(parents=True, exist_ok=True)
    env = demo_env(root)
    for name in ("backups", "data", "archive"):
        (root / name).mkdir(exist_ok=True)
    _fill_tms(env["NORDHAFEN_TMS_DB_URL"], clock.now(), rows, random.Random(seed), history_days)
    write_backups(root / "backups", clock.now(), random.Random(seed))
    (root / "data" / "tms-app.log").write_text("demo log line\n" * 1000)
    environment.export(env)
    return DemoSystems(root=root, env=env)


def _fill_tms(url: str, now: datetime, rows: int, rng: random.Random, history_days: int) -> None:
    engine = create_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(tracking_events)).scalar_one():
            return
        trucks = [f"HH-NL {n:03d}" for n in range(40)]
        conn.execute(
            tracking_events.insert(),
            [
                {
                    "truck": rng.choice(trucks),
                    "lat": f"{53.5 + rng.random():.5f}",
                    "lon": f"{9.9 + rng.random():.5f}",
                    "recorded_at": now - timedelta(days=(120 + history_days) * i / rows),
                }
                for i in range(rows)
            ],
        )
        customers = ["Elbe Kaffee", "Hanse Möbel", "Nordsee Fisch", "Alster Druck", "Hafen Bau"]
        conn.execute(
            orders.insert(),
            [
                {
                    "customer": rng.choice(customers),
                    "destination": rng.choice(["Hamburg", "Bremen", "Kiel", "Lübeck", "Rostock"]),
                    "status": "delivered",
                    "delivered_at": now - timedelta(days=rng.uniform(1, 3 * 365 + history_days)),
                }
                for _ in range(rows // 4)
            ],
        )
    engine.dispose()


def write_backups(folder: Path, now: datetime, rng: random.Random) -> None:
    """Nightly dumps up to three days ago: last night's is missing, so the check fails."""
    for days in range(3, 10):
        write_backup(folder, now - timedelta(days=days), rng)


def write_backup(folder: Path, stamp: datetime, rng: random.Random) -> Path:
    """One night's dump, as the client's pg_dump leaves it (an existing one only re-dated)."""
    path = folder / f"tms-{stamp:%Y%m%d}.dump"
    if not path.exists():
        path.write_bytes(rng.randbytes(200_000 + rng.randint(0, 20_000)))
    ts = stamp.timestamp()
    os.utime(path, (ts, ts))
    return path
