"""Backup check on real files, and on a real `pg_dump -Fc` of a tiny PostgreSQL database."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsbinder.clock import FrozenClock
from opsbinder.config.models import BackupCheckProcedure, BackupLocation
from opsbinder.procedures import backup_check
from opsbinder.procedures.context import ProcedureContext
from tests.procedures.binders import procedure
from tests.support import pg


def _proc(**params: object) -> BackupCheckProcedure:
    return BackupCheckProcedure.model_validate(
        procedure("check-backup", "backup_check", system="nas", params={"max_age": "26h", **params})
    )


def _system(folder: Path, pattern: str = "db-*.dump") -> BackupLocation:
    return BackupLocation(id="nas", type="backup_location", path=str(folder), pattern=pattern)


def _ctx(clock: FrozenClock, **kw: object) -> ProcedureContext:
    return ProcedureContext(
        client_id="acme",
        procedure_id="check-backup",
        clock=clock,
        store=create_engine("sqlite://"),
        **kw,  # type: ignore[arg-type]
    )


def _backup(folder: Path, clock: FrozenClock, hours_ago: float, size: int, n: int) -> Path:
    path = folder / f"db-{n:02d}.dump"
    path.write_bytes(os.urandom(size))
    ts = (clock.now() - timedelta(hours=hours_ago)).timestamp()
    os.utime(path, (ts, ts))
    return path


def _series(folder: Path, clock: FrozenClock, newest_hours: float, newest_size: int) -> Path:
    for n, days in enumerate(range(6, 0, -1)):
        _backup(folder, clock, newest_hours + 24 * days, 10_000 + n * 10, n)
    return _backup(folder, clock, newest_hours, newest_size, 10)


def test_it_passes_a_fresh_backup_of_the_usual_size(tmp_path: Path, clock: FrozenClock) -> None:
    newest = _series(tmp_path, clock, 5, 10_100)
    result = backup_check.run(_ctx(clock), _proc(), _system(tmp_path))
    assert result.status == "ok", result.findings
    assert result.metrics["newest_file"] == newest.name
    assert result.metrics["newest_age_hours"] == 5.0
    assert result.metrics["checksum"] == "absent"
    assert "5h old" in result.summary


def test_it_fails_a_stale_backup_with_its_age(tmp_path: Path, clock: FrozenClock) -> None:
    _series(tmp_path, clock, 50, 10_000)
    result = backup_check.run(_ctx(clock), _proc(), _system(tmp_path))
    assert result.status == "failed"
    assert result.findings == ["newest backup db-10.dump is 2d 2h old (allowed: 1d 2h)"]


def test_it_fails_a_backup_far_from_the_usual_size(tmp_path: Path, clock: FrozenClock) -> None:
    _series(tmp_path, clock, 1, 2_000)
    result = backup_check.run(_ctx(clock), _proc(size_tolerance=0.5), _system(tmp_path))
    assert result.status == "failed"
    assert "median of 10.0 kB (tolerance ±50%)" in result.findings[0]
    assert result.metrics["median_size_bytes"] == 10_025


def test_it_checks_the_checksum_file(tmp_path: Path, clock: FrozenClock) -> None:
    newest = _series(tmp_path, clock, 1, 10_000)
    side = newest.with_name(newest.name + ".sha256")
    side.write_text(f"{hashlib.sha256(newest.read_bytes()).hexdigest()}  {newest.name}\n")
    assert backup_check.run(_ctx(clock), _proc(), _system(tmp_path)).metrics["checksum"] == "ok"

    side.write_text("0" * 64 + f"  {newest.name}\n")
    result = backup_check.run(_ctx(clock), _proc(), _system(tmp_path))
    assert result.status == "failed"
    assert result.findings[0].startswith(f"sha256 of {newest.name} is ")


def test_it_reports_every_problem_at_once(tmp_path: Path, clock: FrozenClock) -> None:
    newest = _series(tmp_path, clock, 40, 100)
    newest.with_name(newest.name + ".sha256").write_text("not a digest\n")
    result = backup_check.run(_ctx(clock), _proc(), _system(tmp_path))
    assert len(result.findings) == 3
    assert result.summary.startswith("3 problems: newest backup db-10.dump is 1d 16h old")


def test_it_fails_clearly_without_backups(tmp_path: Path, clock: FrozenClock) -> None:
    result = backup_check.run(_ctx(clock), _proc(), _system(tmp_path))
    assert result.findings == [f"no backup matching 'db-*.dump' in {tmp_path}"]
    missing = backup_check.run(_ctx(clock), _proc(), _system(tmp_path / "nope"))
    assert missing.findings == [
        f"backup folder {tmp_path / 'nope'} does not exist or is not a folder"
    ]


def test_it_expands_variables_in_the_path(tmp_path: Path, clock: FrozenClock) -> None:
    _series(tmp_path, clock, 1, 10_000)
    ctx = _ctx(clock, environ={"BACKUPS": str(tmp_path)})
    result = backup_check.run(ctx, _proc(), _system(Path("${BACKUPS}")))
    assert result.status == "ok"


# --- PostgreSQL custom-format dumps ---------------------------------------------------------


@pytest.fixture
def pg_dump_file(tmp_path: Path, pg_available: bool, clock: FrozenClock) -> Path:
    if not pg_available:
        pytest.skip(f"PostgreSQL not reachable at {pg.ADMIN_URL}")
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore are not installed on this machine")
    url = pg.create_database("dumpsrc")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id serial PRIMARY KEY, customer text)"))
        conn.execute(text("INSERT INTO orders (customer) VALUES ('a'), ('b'), ('c')"))
    engine.dispose()
    path = tmp_path / "db-01.dump"
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_dump", "-Fc", "-f", str(path), libpq], check=True)
    ts = (clock.now() - timedelta(hours=2)).timestamp()
    os.utime(path, (ts, ts))
    return path


def test_it_lists_a_pg_custom_dump_with_pg_restore(pg_dump_file: Path, clock: FrozenClock) -> None:
    result = backup_check.run(
        _ctx(clock), _proc(pg_restore_list=True), _system(pg_dump_file.parent)
    )
    assert result.status == "ok", result.findings
    assert result.metrics["toc_entries"] >= 3  # table, sequence, data, ...


def test_it_fails_a_truncated_pg_dump(pg_dump_file: Path, clock: FrozenClock) -> None:
    data = pg_dump_file.read_bytes()
    pg_dump_file.write_bytes(data[:40])
    result = backup_check.run(
        _ctx(clock), _proc(pg_restore_list=True), _system(pg_dump_file.parent)
    )
    assert result.status == "failed"
    assert result.findings[0].startswith("pg_restore cannot read db-01.dump: pg_restore: error:")


def test_it_restores_into_a_scratch_database_and_asks_sanity_questions(
    pg_dump_file: Path, clock: FrozenClock
) -> None:
    scratch = pg.create_database("drill")
    params = {
        "restore_drill": True,
        "drill_database_url_env": "DRILL_URL",
        "sanity_queries": ["SELECT count(*) FROM orders"],
    }
    ctx = _ctx(clock, environ={"DRILL_URL": scratch})
    result = backup_check.run(ctx, _proc(**params), _system(pg_dump_file.parent))
    assert result.status == "ok", result.findings
    assert "restore drill ok" in result.summary

    # the binder's SQL goes to the server as written: a colon or a percent sign in it is text
    params["sanity_queries"] = [
        "SELECT count(*) FROM orders WHERE customer <> 'a:x' AND customer NOT LIKE '%:zz%'"
    ]
    colons = backup_check.run(ctx, _proc(**params), _system(pg_dump_file.parent))
    assert colons.status == "ok", colons.findings

    params["sanity_queries"] = ["SELECT count(*) FROM orders WHERE customer = 'zzz'"]
    failed = backup_check.run(ctx, _proc(**params), _system(pg_dump_file.parent))
    assert failed.findings == [
        "restore drill: sanity query \"SELECT count(*) FROM orders WHERE customer = 'zzz'\" returned 0"
    ]


def test_it_restores_into_the_database_system_it_names_and_a_dry_run_says_what_and_where(
    pg_dump_file: Path, clock: FrozenClock
) -> None:
    from opsbinder.config.models import DatabaseSystem

    scratch = pg.create_database("drill")
    params = {"restore_drill": True, "restore_to": "tms-scratch",
              "sanity_queries": ["SELECT count(*) FROM orders"]}  # fmt: skip
    systems = {"tms-scratch": DatabaseSystem(id="tms-scratch", type="database", url_env="SCRATCH")}
    dry = _ctx(clock, environ={}, dry_run=True, systems=systems)  # no URL needed to preview
    preview = backup_check.run(dry, _proc(**params), _system(pg_dump_file.parent))
    assert preview.status == "ok", preview.findings
    assert "dry run: the drill would restore db-01.dump (" in preview.summary
    assert "into the database tms-scratch (URL in SCRATCH), replacing what is there" in (
        preview.summary
    )
    assert (preview.metrics["would_restore"], preview.metrics["restore_to"]) == (
        "db-01.dump", "the database tms-scratch (URL in SCRATCH)",
    )  # fmt: skip
    real = _ctx(clock, environ={"SCRATCH": scratch}, systems=systems)
    result = backup_check.run(real, _proc(**params), _system(pg_dump_file.parent))
    assert result.status == "ok", result.findings
    assert "restore drill ok" in result.summary
    assert result.metrics["restore_to"] == "the database tms-scratch (URL in SCRATCH)"
