"""Disk check: real filesystem usage, real database sizes, forecast from recorded runs."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from opsbinder import runs
from opsbinder.clock import FrozenClock
from opsbinder.config.models import DatabaseSystem, DiskCheckProcedure, PathSystem
from opsbinder.procedures import disk_check
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from tests.procedures.binders import client_binder, load, procedure
from tests.support import pg


def _proc(**params: object) -> dict[str, object]:
    return procedure("disk", "disk_check", system="vol", params=params)


def _setup(store: Engine, clock: FrozenClock, system: dict, **params: object) -> DiskCheckProcedure:
    cb = load(store, clock, client_binder([system], [_proc(**params)]))
    return cb.procedure("disk")  # type: ignore[return-value]


def _ctx(store: Engine, clock: FrozenClock, **kw: object) -> ProcedureContext:
    return ProcedureContext(client_id="acme", procedure_id="disk", clock=clock, store=store, **kw)  # type: ignore[arg-type]


def _percent(path: Path) -> float:
    du = shutil.disk_usage(path)
    return 100 * du.used / (du.used + du.free)


def test_it_measures_the_paths_against_the_thresholds(
    store: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    system = {"id": "vol", "type": "filesystem", "path": str(tmp_path)}
    used = _percent(tmp_path)
    proc = _setup(store, clock, system, warn_percent=98.9, critical_percent=99)
    result = disk_check.run(_ctx(store, clock), proc, PathSystem.model_validate(system))
    entry = result.metrics["paths"][str(tmp_path)]
    assert abs(entry["percent"] - used) < 1
    assert result.status == ("failed" if used >= 99 else "ok")
    assert "no growth trend yet" in result.summary

    low = _setup(store, clock, system, warn_percent=0.001, critical_percent=99.999)
    if used < 99.999:
        warned = disk_check.run(_ctx(store, clock), low, PathSystem.model_validate(system))
        assert warned.status == "ok"
        assert warned.summary.startswith(f"warning: {tmp_path} is ")
    crit = _setup(store, clock, system, warn_percent=0.001, critical_percent=0.002)
    failed = disk_check.run(_ctx(store, clock), crit, PathSystem.model_validate(system))
    assert failed.status == "failed"
    assert failed.findings == [f"{tmp_path} is {entry['percent']}% full (critical at 0.002%)"]


def test_it_fails_a_path_that_does_not_exist(
    store: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    system = {"id": "vol", "type": "filesystem", "path": str(tmp_path / "gone")}
    proc = _setup(store, clock, system)
    result = disk_check.run(_ctx(store, clock), proc, PathSystem.model_validate(system))
    assert result.findings == [f"path {tmp_path / 'gone'} does not exist"]


def test_it_forecasts_days_until_full_from_earlier_runs(
    store: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    system = {"id": "vol", "type": "filesystem", "path": str(tmp_path)}
    proc = _setup(store, clock, system, warn_percent=99.8, critical_percent=99.9)
    du = shutil.disk_usage(tmp_path)
    growth = max(du.free // 10, 1)  # per day: full in about 10 days
    with session_scope(store) as session:
        for days in (3, 2, 1):
            at = FrozenClock(clock.now() - timedelta(days=days))
            run = runs.start_run(
                session, at, client_id="acme", procedure_key="disk",
                flow_run_id=None, scheduled_for=None,
            )  # fmt: skip
            used = du.used - days * growth
            metrics = {"paths": {str(tmp_path): {"used_bytes": used}}}
            runs.finish_run(session, at, run.id, ProcedureResult("ok", "", metrics))
    result = disk_check.run(_ctx(store, clock), proc, PathSystem.model_validate(system))
    # other processes write to this disk meanwhile: about ten days, not exactly
    assert 8 < result.metrics["days_until_full"] < 12
    assert "full in ~" in result.summary


def test_it_forecasts_on_a_least_squares_line() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    points = [(t0 + timedelta(days=d), 100 + 10 * d) for d in range(5)]
    assert disk_check.forecast_days_until_full(points, capacity=200) == 6.0
    assert disk_check.forecast_days_until_full(points[:2], capacity=200) is None
    shrinking = [(t0 + timedelta(days=d), 100 - d) for d in range(5)]
    assert disk_check.forecast_days_until_full(shrinking, capacity=200) is None


def test_it_measures_the_database_of_a_database_system(
    store: Engine, clock: FrozenClock, backend: str, tmp_path: Path, pg_available: bool
) -> None:
    url = (
        pg.create_database("diskdb")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'c.db'}"
    )
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE big (id integer primary key, body text)"))
        conn.execute(text("INSERT INTO big (id, body) VALUES (1, '" + "x" * 2000 + "')"))
    engine.dispose()
    system = {"id": "vol", "type": "database", "url_env": "CLIENT_DB"}
    proc = _setup(store, clock, system, database_size_warn_gb=0.000001)
    ctx = _ctx(store, clock, environ={"CLIENT_DB": url})
    result = disk_check.run(ctx, proc, DatabaseSystem.model_validate(system))
    assert result.metrics["database_bytes"] > 0
    assert result.status == "ok"
    assert result.summary.startswith("warning: database is 0.0")
    assert "GB (warning at 1e-06 GB)" in result.summary
    if backend == "postgresql":
        assert result.metrics["largest_tables"][0]["table"] == "big"


def test_it_fails_a_database_over_its_critical_size(
    store: Engine, clock: FrozenClock, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id integer)"))
    engine.dispose()
    system = {"id": "vol", "type": "database", "url_env": "CLIENT_DB"}
    proc = _setup(store, clock, system, database_size_critical_gb=0.0000001)
    ctx = _ctx(store, clock, environ={"CLIENT_DB": url})
    result = disk_check.run(ctx, proc, DatabaseSystem.model_validate(system))
    assert result.status == "failed"
    assert result.findings[0].startswith("database is 0.00 GB (critical at 1e-07 GB)")


def test_it_says_a_flat_disk_is_not_filling_up_rather_than_a_number_of_days() -> None:
    assert disk_check.forecast_text(1.49e6) == "not filling up (over 10 years at this rate)"
    assert disk_check.forecast_text(3650) == "full in ~3650 days"
    assert disk_check.forecast_text(10.4) == "full in ~10 days"
    assert disk_check.forecast_text(2.5) == "full in ~2.5 days"
