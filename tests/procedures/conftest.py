"""Scratch client databases for purge and archive: a SQLite file or a private PostgreSQL
database, on the same backend as the test's store, with a table of timestamped rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
)

from opsbinder.clock import FrozenClock
from opsbinder.config.models import ArchiveProcedure, DatabaseSystem, PurgeProcedure
from opsbinder.procedures.context import ProcedureContext
from tests.support import pg

URL_ENV = "CLIENT_DB_URL"


def events_table(metadata: MetaData, name: str = "tracking_events") -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("truck", String(16), nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False, index=True),
    )


@dataclass
class ClientDb:
    backend: str
    url: str
    engine: Engine
    tmp: Path

    @property
    def system(self) -> DatabaseSystem:
        return DatabaseSystem(id="tms-db", type="database", url_env=URL_ENV)

    def fill(
        self, now: datetime, *, old: int, new: int, name: str = "tracking_events", tag: str = ""
    ) -> Table:
        """`old` rows 100..(100+old) hours past 91 days back, `new` rows within the last days;
        `tag` starts every truck name, to tell two databases' rows with equal keys apart."""
        table = events_table(MetaData(), name)
        table.create(self.engine)
        rows: list[dict[str, Any]] = []
        for i in range(old):
            rows.append(
                {
                    "id": i + 1,
                    "truck": f"{tag}T{i % 7}",
                    "recorded_at": now - timedelta(days=91, hours=i % 500, seconds=i),
                }
            )
        for i in range(new):
            rows.append(
                {
                    "id": old + i + 1,
                    "truck": f"{tag}N{i % 5}",
                    "recorded_at": now - timedelta(hours=1 + i % 200),
                }
            )
        with self.engine.begin() as conn:
            if rows:
                conn.execute(table.insert(), rows)
        return table

    def fill_receipts(self, now: datetime, *, old: int, new: int, partitioned: bool) -> None:
        """A retail chain's `receipts`, keyed by (receipt_id, sold_at): each receipt id recurs
        (the tills restart their numbering), so no single column is unique. `partitioned`
        (PostgreSQL): range partitions by month from September 2025 to April 2026, a primary key
        that includes the partition key, as PostgreSQL demands."""
        table = Table(
            "receipts",
            MetaData(),
            Column("receipt_id", Integer, primary_key=True, autoincrement=False),
            Column("store", String(16), nullable=False),
            Column("sold_at", DateTime(timezone=True), primary_key=True),
        )
        if not partitioned:
            table.create(self.engine)
        else:
            with self.engine.begin() as conn:
                conn.exec_driver_sql(
                    "CREATE TABLE receipts (receipt_id integer NOT NULL, store text NOT NULL, "
                    "sold_at timestamptz NOT NULL, PRIMARY KEY (receipt_id, sold_at)) "
                    "PARTITION BY RANGE (sold_at)"
                )
                for month in range(9, 17):
                    lo = date(2025 + (month - 1) // 12, (month - 1) % 12 + 1, 1)
                    hi = date(2025 + month // 12, month % 12 + 1, 1)
                    conn.exec_driver_sql(
                        f"CREATE TABLE receipts_{lo:%Y_%m} PARTITION OF receipts "
                        f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
                    )
        rows = [
            {
                "receipt_id": 1000 + i // 4,
                "store": f"S{i % 3}",
                "sold_at": now - timedelta(days=91 + i % 100, minutes=i),
            }
            for i in range(old)
        ] + [
            {"receipt_id": 1000 + i // 4, "store": f"N{i % 3}", "sold_at": now - timedelta(hours=i)}
            for i in range(new)
        ]
        with self.engine.begin() as conn:
            conn.execute(table.insert(), rows)

    def receipts(self) -> set[tuple[int, str, datetime]]:
        """Every receipt, times in UTC (SQLite gives them back without a zone)."""
        t = Table("receipts", MetaData(), autoload_with=self.engine)
        with self.engine.connect() as conn:
            return {
                (r.receipt_id, r.store, r.sold_at.replace(tzinfo=r.sold_at.tzinfo or UTC))
                for r in conn.execute(select(t))
            }

    def count(self, table: str = "tracking_events", where: Any = None) -> int:
        t = Table(table, MetaData(), autoload_with=self.engine)
        stmt = select(func.count()).select_from(t)
        with self.engine.connect() as conn:
            return conn.execute(stmt if where is None else stmt.where(where(t))).scalar_one()

    def ids(self, table: str = "tracking_events") -> set[int]:
        t = Table(table, MetaData(), autoload_with=self.engine)
        with self.engine.connect() as conn:
            return set(conn.execute(select(t.c.id)).scalars())


def _client_db(backend: str, tmp: Path, file_name: str) -> Iterator[ClientDb]:
    url = f"sqlite:///{tmp / file_name}" if backend == "sqlite" else pg.create_database("target")
    engine = create_engine(url)
    try:
        yield ClientDb(backend, url, engine, tmp)
    finally:
        engine.dispose()


@pytest.fixture
def client_db(backend: str, tmp_path: Path) -> Iterator[ClientDb]:
    yield from _client_db(backend, tmp_path, "client.db")


@pytest.fixture
def other_client_db(backend: str, tmp_path: Path) -> Iterator[ClientDb]:
    """A second client's database on the same backend, its archives under the same folder."""
    yield from _client_db(backend, tmp_path, "other.db")


@pytest.fixture
def make_ctx(
    store: Engine, clock: FrozenClock, client_db: ClientDb
) -> Callable[..., ProcedureContext]:
    def make(procedure_id: str = "purge-tracking-events", **kw: Any) -> ProcedureContext:
        environ = {URL_ENV: client_db.url, "ARCHIVE_DIR": str(client_db.tmp / "archive")}
        return ProcedureContext(
            client_id="nordhafen",
            procedure_id=procedure_id,
            clock=clock,
            store=store,
            environ=environ,
            **kw,
        )

    return make


def purge_proc(**params: Any) -> PurgeProcedure:
    return PurgeProcedure.model_validate(
        {
            "id": "purge-tracking-events",
            "name": "Purge tracking events",
            "kind": "purge",
            "system": "tms-db",
            "schedule": {"cron": "15 1 * * *", "timezone": "Europe/Berlin"},
            "owner": "lena-fischer",
            "escalation_policy": "standard",
            "params": {
                "table": "tracking_events",
                "age_column": "recorded_at",
                "retention_days": 90,
                **params,
            },
        }
    )


def archive_proc(**params: Any) -> ArchiveProcedure:
    return ArchiveProcedure.model_validate(
        {
            "id": "archive-tracking-events",
            "name": "Archive tracking events",
            "kind": "archive",
            "system": "tms-db",
            "schedule": {"cron": "0 3 * * 0", "timezone": "Europe/Berlin"},
            "owner": "priya-nair",
            "escalation_policy": "standard",
            "params": {
                "table": "tracking_events",
                "age_column": "recorded_at",
                "key_column": "id",
                "older_than_days": 90,
                "destination": "${ARCHIVE_DIR}",
                **params,
            },
        }
    )
