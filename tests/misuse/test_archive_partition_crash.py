"""Kill a `partitions: whole` archive for real (SIGKILL, from inside, at every step) against
PostgreSQL, run after run, and prove that at every instant each row is in the table, in a
detached partition or in a verified archive, never archived twice, and that the next run
finishes: expired partitions dropped, every old row archived exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from opsbinder.procedures import archive_files
from tests.misuse.test_archive_crash import _wait_lock_released
from tests.procedures.archive_child import KILL_AT
from tests.procedures.conftest import URL_ENV

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"table": "receipts", "age_column": "sold_at", "key_column": ["receipt_id", "sold_at"],
          "partitions": "whole"}  # fmt: skip
# One kill per run, each run first finishing what the last left: the first partition is killed
# after its intent, after the detach, after its file is written and fsynced, after its manifest
# and after the drop; the second goes through, the third is killed after its intent, then after
# its manifest and its drop; then the rows of the partly expired partition, by their two-column
# keys: mid-delete, after the next batch's manifest, and mid-delete in the recovery of that one.
CRASHES = ["after_intent:1", "after_detach:1", "after_write:1", "after_fsync:1",
           "after_manifest:1", "after_drop:1", "after_intent:2", "after_manifest:1",
           "after_drop:1"]  # fmt: skip
DETACHED = {1, 2, 3, 4, 7}  # CRASHES that leave a partition detached, not yet dropped
ROW_CRASHES = ["mid_delete:1", "after_manifest:1", "mid_delete:1"]
EXPIRED = ["receipts_2025_09", "receipts_2025_10", "receipts_2025_11"]


def _child(db, store, crash: str | None, fmt: str, compression: str):
    env = {
        **os.environ,
        URL_ENV: db.url,
        "ARCHIVE_DIR": str(db.tmp / "archive"),
        "ARCHIVE_PARAMS": json.dumps(PARAMS),
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ARCHIVE_DELETE_CHUNK": "10",
        "PYTHONPATH": str(ROOT),
    }
    env.pop(KILL_AT, None)
    if crash:
        env[KILL_AT] = crash
    return subprocess.run(
        [sys.executable, "-m", "tests.procedures.archive_child", "nordhafen", "40", fmt, compression],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _folder(db) -> Path:
    return db.tmp / "archive" / "nordhafen" / "tms-db" / "archive-tracking-events"


def _row(receipt_id, store, sold_at) -> tuple[int, str, datetime]:
    when = sold_at if isinstance(sold_at, datetime) else datetime.fromisoformat(sold_at)
    return int(receipt_id), store, when


def _archived(folder: Path) -> list[tuple[int, str, datetime]]:
    rows = []
    if folder.exists():
        for manifest in archive_files.manifests_in(folder):
            rows += [_row(**r) for r in archive_files.read_verified(manifest)]
    return rows


def _in_database(db) -> set[tuple[int, str, datetime]]:
    """Every row of every receipts table, attached partition or detached."""
    rows: set[tuple[int, str, datetime]] = set()
    with db.engine.connect() as conn:
        names = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'receipts\\_%'")
        ).scalars()
        for name in list(names):
            query = f'SELECT receipt_id, store, sold_at FROM "{name}"'  # a name we created
            rows |= {_row(*r) for r in conn.execute(text(query))}
    return rows


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_loses_no_row_and_archives_none_twice_when_killed_at_every_step(
    client_db, store, clock, backend, fmt, compression
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=300, new=20, partitioned=True)
    original = client_db.receipts()
    assert _in_database(client_db) == original
    folder = _folder(client_db)

    for n, crash in enumerate(CRASHES + ROW_CRASHES):
        child = _child(client_db, store, crash, fmt, compression)
        assert child.returncode == -signal.SIGKILL, (crash, child.stdout, child.stderr)
        _wait_lock_released(client_db)
        archived = _archived(folder)
        assert len(archived) == len(set(archived)), crash  # nothing archived twice
        assert set(archived) <= original, crash
        assert original <= _in_database(client_db) | set(archived), crash  # nothing lost
        if n in DETACHED:
            # the kill left a detached partition: its rows are out of the table, not lost
            assert client_db.receipts() < _in_database(client_db), crash

    final = _child(client_db, store, None, fmt, compression)
    assert final.returncode == 0, final.stderr
    result = json.loads(final.stdout)
    assert result["status"] == "ok", result
    archived = _archived(folder)
    assert len(archived) == len(set(archived)) == 300
    assert set(archived) | client_db.receipts() == original
    assert len(client_db.receipts()) == 20
    assert not _in_database(client_db) & set(archived)  # no detached table left behind
    assert not list(folder.glob("*.detach.json")) and not list(folder.glob("*.part"))
    manifests = archive_files.manifests_in(folder)
    assert (
        sorted(m.body["partition"]["name"] for m in manifests if "partition" in m.body) == EXPIRED
    )
    assert all(archive_files.is_done(m) for m in manifests)
