"""Disk check: filesystem usage and database sizes against thresholds, and when the disk is full.

Critical usage fails the run; warning usage keeps it ok but says so in the summary (the run
history shows the trend). The days-until-full forecast is a least-squares line through the used
bytes this procedure recorded in its earlier runs, so it needs no agent on the server.
"""

from __future__ import annotations

import shutil
import statistics
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from opsbinder.clock import utc
from opsbinder.config.models import DatabaseSystem, DiskCheckProcedure, PathSystem
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult
from opsbinder.runs import last_runs
from opsbinder.store.db import session_scope

HISTORY_RUNS = 60  # earlier runs the forecast looks at
GB = 1_000_000_000


def run(
    ctx: ProcedureContext,
    proc: DiskCheckProcedure,
    system: PathSystem | DatabaseSystem | None,
) -> ProcedureResult:
    params = proc.params
    paths = [ctx.expand(p) for p in params.paths]
    if isinstance(system, PathSystem):
        own = ctx.expand(system.path)
        if own not in paths:
            paths.insert(0, own)
    if not paths and not isinstance(system, DatabaseSystem):
        return _fail(
            "nothing to check: no paths in params and the system is not a path or database"
        )

    history = _history(ctx)
    critical: list[str] = []
    warnings: list[str] = []
    usage: dict[str, dict[str, Any]] = {}
    now = ctx.clock.now()
    for path in paths:
        if not Path(path).exists():
            critical.append(f"path {path} does not exist")
            continue
        du = shutil.disk_usage(path)
        capacity = du.used + du.free  # what df shows: the root reserve is not usable space
        percent = round(100 * du.used / capacity, 1) if capacity else 100.0
        entry: dict[str, Any] = {"used_bytes": du.used, "free_bytes": du.free, "percent": percent}
        days = forecast_days_until_full([*history.get(path, []), (now, du.used)], capacity)
        if days is not None:
            entry["days_until_full"] = days
        usage[path] = entry
        if percent >= params.critical_percent:
            critical.append(f"{path} is {percent}% full (critical at {params.critical_percent:g}%)")
        elif percent >= params.warn_percent:
            warnings.append(f"{path} is {percent}% full (warning at {params.warn_percent:g}%)")

    metrics: dict[str, Any] = {"paths": usage}
    if usage:
        metrics["max_percent"] = max(e["percent"] for e in usage.values())
        forecasts = [e["days_until_full"] for e in usage.values() if "days_until_full" in e]
        if forecasts:
            metrics["days_until_full"] = min(forecasts)
    if isinstance(system, DatabaseSystem):
        engine = create_engine(ctx.secret(system.url_env, field_name=f"system {system.id} url_env"))
        try:
            size, tables = database_sizes(engine)
        finally:
            engine.dispose()
        metrics["database_bytes"], metrics["largest_tables"] = size, tables
        gb = size / GB
        if params.database_size_critical_gb and gb >= params.database_size_critical_gb:
            critical.append(
                f"database is {gb:.2f} GB (critical at {params.database_size_critical_gb:g} GB)"
            )
        elif params.database_size_warn_gb and gb >= params.database_size_warn_gb:
            warnings.append(
                f"database is {gb:.2f} GB (warning at {params.database_size_warn_gb:g} GB)"
            )
    if warnings:
        metrics["warnings"] = warnings

    if critical:
        return ProcedureResult("failed", "; ".join(critical), metrics, critical)
    return ProcedureResult("ok", _summary(metrics, warnings), metrics)


def forecast_days_until_full(
    points: list[tuple[datetime, int]], capacity: int, *, min_points: int = 3
) -> float | None:
    """Days until used bytes reach capacity on the least-squares line; None when the usage is
    not growing or there are too few points to say."""
    if len(points) < min_points or capacity <= 0:
        return None
    start = min(t for t, _ in points)
    xs = [(utc(t) - utc(start)).total_seconds() / 86400 for t, _ in points]
    ys = [float(u) for _, u in points]
    if len(set(xs)) < 2:
        return None
    slope, _intercept = statistics.linear_regression(xs, ys)
    if slope <= 0:
        return None
    _latest_x, latest_used = max(zip(xs, ys, strict=True))
    return round(max(0.0, (capacity - latest_used) / slope), 1)


def database_sizes(engine: Engine) -> tuple[int, list[dict[str, Any]]]:
    """Size of the database and its five largest tables (with indexes and TOAST)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            rows = conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') "
                    "ORDER BY 2 DESC LIMIT 5"
                )
            ).all()
            return int(size), [{"table": r[0], "bytes": int(r[1])} for r in rows]
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(page_size), []
    raise NotImplementedError(f"database sizes of {engine.dialect.name} are not supported")


def _history(ctx: ProcedureContext) -> dict[str, list[tuple[datetime, int]]]:
    """Used bytes per path from earlier runs' recorded metrics."""
    points: dict[str, list[tuple[datetime, int]]] = {}
    with session_scope(ctx.store) as session:
        runs = last_runs(
            session, ctx.client_id, ctx.procedure_id, HISTORY_RUNS, outcomes=("ok", "failed")
        )
        for r in runs:
            for path, entry in (r.metrics or {}).get("paths", {}).items():
                if isinstance(entry, dict) and "used_bytes" in entry:
                    points.setdefault(path, []).append(
                        (utc(r.started_at), int(entry["used_bytes"]))
                    )
    return points


def _summary(metrics: dict[str, Any], warnings: list[str]) -> str:
    parts = []
    if "max_percent" in metrics:
        parts.append(f"max {metrics['max_percent']}% used")
    if "days_until_full" in metrics:
        parts.append(forecast_text(metrics["days_until_full"]))
    elif metrics.get("paths"):
        parts.append("no growth trend yet")
    if "database_bytes" in metrics:
        parts.append(f"database {metrics['database_bytes'] / GB:.2f} GB")
    text_ = ", ".join(parts)
    return f"warning: {'; '.join(warnings)} ({text_})" if warnings else text_


FAR_OFF_DAYS = 3650
"""Beyond this a straight line says nothing a person should act on: usage flat for a year
otherwise reads as "full in ~1.49e+06 days"."""


def forecast_text(days: float) -> str:
    if days > FAR_OFF_DAYS:
        return "not filling up (over 10 years at this rate)"
    return f"full in ~{days:.0f} days" if days >= 10 else f"full in ~{days:g} days"


def _fail(reason: str) -> ProcedureResult:
    return ProcedureResult("failed", reason, {}, [reason])
