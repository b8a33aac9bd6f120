"""Kill the archiving process for real (SIGKILL, from inside, at named instants) against
PostgreSQL, and prove that no row is ever lost and the next run finishes without duplicates."""

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
from tests.procedures.conftest import URL_ENV

ROOT = Path(__file__).resolve().parents[2]
# "point:N" = SIGKILL the N-th time the point is reached. With 2,700 old rows in batches of 400
# and deletes in chunks of 150 this leaves, in turn: a .part file; a renamed file without a
# manifest; a manifest whose rows are all still in the source; a batch half deleted (after the
# recovery of the previous one); and another file without a manifest.
CRASHES = ["after_write:2", "after_fsync:1", "after_manifest:2", "mid_delete:4", "after_fsync:2"]


def _child(
    client_db, store, crash: str | None, fmt: str, compression: str
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        URL_ENV: client_db.url,
        "ARCHIVE_DIR": str(client_db.tmp / "archive"),
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ARCHIVE_DELETE_CHUNK": "150",
        "PYTHONPATH": str(ROOT),
    }
    if crash:
        env["OPSBINDER_TEST_CRASH_AT"] = crash
    else:
        env.pop("OPSBINDER_TEST_CRASH_AT", None)
    return subprocess.run(
        [sys.executable, "-m", "tests.procedures.archive_child", "400", fmt, compression],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _wait_lock_released(client_db) -> None:
    """The killed process's session ends when PostgreSQL notices the closed socket."""
    for _ in range(100):
        with client_db.engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'")).first():
                return
        time.sleep(0.05)


def _archived(folder: Path) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    for manifest in archive_files.manifests_in(folder):
        rows += [(int(r["id"]), r["truck"]) for r in archive_files.read_verified(manifest)]
    return rows


def _source(client_db) -> list[tuple[int, str]]:
    with client_db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, truck FROM tracking_events"))]


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "compression"), [("jsonl", "gzip"), ("csv", "zstd")])
def test_it_loses_no_row_and_duplicates_none_when_killed_at_any_point(
    client_db, store, clock, backend, fmt, compression
):
    if backend != "postgresql":
        pytest.skip("the crash test runs against PostgreSQL")
    client_db.fill(clock.now(), old=2700, new=60)
    original = set(_source(client_db))
    folder = client_db.tmp / "archive" / "archive-tracking-events"

    for crash in CRASHES:
        child = _child(client_db, store, crash, fmt, compression)
        assert child.returncode == -signal.SIGKILL, (crash, child.stdout, child.stderr)
        _wait_lock_released(client_db)
        # at this instant every row is in the source or in a verified archive
        archived = set(_archived(folder)) if folder.exists() else set()
        source = set(_source(client_db))
        assert original <= source | archived, crash
        if crash.startswith(("after_manifest", "mid_delete")):
            # the kill left verified archives whose rows are still in the source
            assert source & archived, crash

    final = _child(client_db, store, None, fmt, compression)
    assert final.returncode == 0, final.stderr
    result = json.loads(final.stdout)
    assert result["status"] == "ok", result

    archived = _archived(folder)
    source = _source(client_db)
    assert len(archived) == len(set(archived)) == 2700  # no duplicates across files
    assert set(archived) | set(source) == original
    assert set(archived).isdisjoint(source)
    assert all(row_id > 2700 for row_id, _ in source)
    assert not list(folder.glob("*.part"))
    manifests = {p.name for p in folder.glob("*" + archive_files.MANIFEST_SUFFIX)}
    data = {p.name for p in folder.iterdir()} - manifests
    data = {n for n in data if not n.endswith(archive_files.DONE_SUFFIX)}
    # every data file has its manifest, and every manifest is marked done
    assert {n + archive_files.MANIFEST_SUFFIX for n in data} == manifests
    assert all((folder / (m + archive_files.DONE_SUFFIX)).exists() for m in manifests)
