"""Kill archiving processes for real (SIGKILL, from inside, at named instants) against
PostgreSQL, two clients at a time sharing one destination, procedure id, system id and key
values, and prove that no row of either is ever lost and the next runs finish without
duplicates or touching the other client's rows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from opsbinder.procedures import archive_files
from tests.procedures.archive_child import KILL_AT
from tests.procedures.conftest import URL_ENV

ROOT = Path(__file__).resolve().parents[2]
# "point:N" = SIGKILL the N-th time the point is reached. With 2,700 old rows in batches of 400
# and deletes in chunks of 150 this leaves, in turn: a .part file; a renamed file without a
# manifest; a manifest whose rows are all still in the source; a batch half deleted (after the
# recovery of the previous one); and another file without a manifest.
CRASHES = ["after_write:2", "after_fsync:1", "after_manifest:2", "mid_delete:4", "after_fsync:2"]
CLIENTS = {"nordhafen": "A", "elbtrans": "B"}  # client id -> tag of its rows' truck names


def _child(db, client: str, store, crash: str | None, fmt: str, compression: str):
    env = {
        **os.environ,
        URL_ENV: db.url,
        "ARCHIVE_DIR": str(db.tmp / "archive"),
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ARCHIVE_DELETE_CHUNK": "150",
        "PYTHONPATH": str(ROOT),
    }
    env.pop(KILL_AT, None)
    if crash:
        env[KILL_AT] = crash
    return subprocess.run(
        [sys.executable, "-m", "tests.procedures.archive_child", client, "400", fmt, compression],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _wait_lock_released(db) -> None:
    """The killed process's session ends when PostgreSQL notices the closed socket."""
    query = text(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    for _ in range(200):
        with db.engine.connect() as conn:
            if not conn.execute(query).first():
                return
        time.sleep(0.05)
    pytest.fail("the killed run's advisory lock was never released")


def _folder(db, client: str) -> Path:
    return db.tmp / "archive" / client / "tms-db" / "archive-tracking-events"


def _archived(folder: Path) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    if folder.exists():
        for manifest in archive_files.manifests_in(folder):
            rows += [(int(r["id"]), r["truck"]) for r in archive_files.read_verified(manifest)]
    return rows


def _source(db) -> list[tuple[int, str]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, truck FROM tracking_events"))]


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_loses_no_row_and_duplicates_none_when_killed_at_any_point(
    client_db, other_client_db, store, clock, backend, fmt, compression
):
    if backend != "postgresql":
        pytest.skip("the crash test kills a process holding a PostgreSQL advisory lock")
    dbs = dict(zip(CLIENTS, [client_db, other_client_db], strict=True))
    original = {}
    for client, db in dbs.items():
        db.fill(clock.now(), old=2700, new=60, tag=CLIENTS[client])
        original[client] = set(_source(db))
    assert original["nordhafen"].isdisjoint(original["elbtrans"])  # same ids, other rows

    for crash in CRASHES:
        for client, db in dbs.items():  # the first is killed, then the second at the same point
            child = _child(db, client, store, crash, fmt, compression)
            assert child.returncode == -signal.SIGKILL, (crash, client, child.stdout, child.stderr)
            _wait_lock_released(db)
        for client, db in dbs.items():
            # at this instant every row is in its source or in its own client's verified archive
            archived = set(_archived(_folder(db, client)))
            source = set(_source(db))
            assert original[client] <= source | archived, (crash, client)
            assert archived <= original[client], (crash, client)
            if crash.startswith(("after_manifest", "mid_delete")):
                # the kill left verified archives whose rows are still in the source
                assert source & archived, (crash, client)

    for client in reversed(CLIENTS):  # the second client first, over the first's leftovers
        final = _child(dbs[client], client, store, None, fmt, compression)
        assert final.returncode == 0, final.stderr
        result = json.loads(final.stdout)
        assert result["status"] == "ok", result
        assert result["metrics"]["foreign_manifests"] == []

    for client, db in dbs.items():
        folder = _folder(db, client)
        archived = _archived(folder)
        source = _source(db)
        assert len(archived) == len(set(archived)) == 2700, client  # no duplicates across files
        assert set(archived) | set(source) == original[client], client
        assert set(archived).isdisjoint(source), client
        assert all(row_id > 2700 for row_id, _ in source), client
        assert not list(folder.glob("*.part"))
        manifests = {p.name for p in folder.glob("*" + archive_files.MANIFEST_SUFFIX)}
        data = {p.name for p in folder.iterdir()} - manifests
        data = {n for n in data if not n.endswith(archive_files.DONE_SUFFIX)}
        # every data file has its manifest, and every manifest is marked done
        assert {n + archive_files.MANIFEST_SUFFIX for n in data} == manifests
        assert all((folder / (m + archive_files.DONE_SUFFIX)).exists() for m in manifests)
        assert all(
            (m.body["client"], m.body["system"], m.body["database"]["database"])
            == (client, "tms-db", db.engine.url.database)
            for m in archive_files.manifests_in(folder)
        )
