"""Backup check: is the newest backup recent, of a usual size, intact and restorable?

Read-only on the backup location. Each problem becomes one finding that says what was expected
and what was found, so the incident tells the on-call engineer what to look at first.
"""

from __future__ import annotations

import hashlib
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from opsbinder import environment
from opsbinder.clock import duration_text
from opsbinder.config.models import BackupCheckProcedure, BackupLocation
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult

HISTORY = 7  # earlier backups whose median size is "the usual"


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    modified: datetime


def run(
    ctx: ProcedureContext, proc: BackupCheckProcedure, system: BackupLocation | None
) -> ProcedureResult:
    if not isinstance(system, BackupLocation):
        return _fail(f"system {proc.system!r} is not a backup_location; a backup check needs one")
    params = proc.params
    folder = Path(ctx.expand(system.path))
    if not folder.is_dir():
        return _fail(f"backup folder {folder} does not exist or is not a folder")
    backups = list_backups(folder, system.pattern)
    if not backups:
        return _fail(f"no backup matching {system.pattern!r} in {folder}")

    newest, earlier = backups[0], backups[1 : 1 + HISTORY]
    findings: list[str] = []
    notes: list[str] = []
    age = ctx.clock.now() - newest.modified
    metrics: dict[str, Any] = {
        "newest_file": newest.path.name,
        "newest_age_hours": round(age.total_seconds() / 3600, 1),
        "newest_size_bytes": newest.size,
        "backups_found": len(backups),
    }
    if age > params.max_age:
        findings.append(
            f"newest backup {newest.path.name} is {duration_text(age)} old (allowed: {duration_text(params.max_age)})"
        )
    findings += _size_findings(newest, earlier, params.size_tolerance, metrics)
    findings += _checksum_findings(newest, metrics)
    if params.pg_restore_list:
        findings += _pg_restore_list(newest, metrics)
    if params.restore_drill:
        if ctx.dry_run:
            target, _ = drill_target(ctx, proc)
            metrics["would_restore"], metrics["restore_to"] = newest.path.name, target
            notes.append(
                f"dry run: the drill would restore {newest.path.name} ({_size(newest.size)}, "
                f"{duration_text(age)} old) into {target}, replacing what is there"
            )
        elif not findings:
            findings += _restore_drill(ctx, proc, newest, metrics)
        else:
            notes.append("restore drill skipped: the backup already failed its checks")

    if findings:
        summary = findings[0] if len(findings) == 1 else f"{len(findings)} problems: {findings[0]}"
        return ProcedureResult("failed", summary, metrics, findings)
    parts = [
        f"{newest.path.name}: {duration_text(age)} old",
        _size(newest.size),
        f"checksum {metrics['checksum']}",
    ]
    if "toc_entries" in metrics:
        parts.append(f"pg_restore lists {metrics['toc_entries']} entries")
    if "drill_seconds" in metrics:
        parts.append(f"restore drill ok in {metrics['drill_seconds']} s")
    return ProcedureResult("ok", ", ".join(parts + notes), metrics)


def list_backups(folder: Path, pattern: str) -> list[Backup]:
    """Backups newest first; checksum side files are not backups."""
    found = []
    for path in folder.glob(pattern):
        if not path.is_file() or path.name.endswith(".sha256"):
            continue
        stat = path.stat()
        found.append(Backup(path, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
    return sorted(found, key=lambda b: (b.modified, b.path.name), reverse=True)


def _size_findings(
    newest: Backup, earlier: list[Backup], tolerance: float, metrics: dict[str, Any]
) -> list[str]:
    if newest.size == 0:
        return [f"newest backup {newest.path.name} is empty (0 bytes)"]
    if not earlier:
        return []
    median = statistics.median(b.size for b in earlier)
    metrics["median_size_bytes"] = int(median)
    if median and abs(newest.size - median) > tolerance * median:
        return [
            f"newest backup {newest.path.name} is {_size(newest.size)}, the previous "
            f"{len(earlier)} had a median of {_size(int(median))} (tolerance ±{tolerance:.0%})"
        ]
    return []


def _checksum_findings(newest: Backup, metrics: dict[str, Any]) -> list[str]:
    side = newest.path.with_name(newest.path.name + ".sha256")
    if not side.exists():
        metrics["checksum"] = "absent"
        return []
    words = side.read_text(errors="replace").split()
    expected = words[0].lower() if words else ""
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        metrics["checksum"] = "unreadable"
        return [f"checksum file {side.name} does not start with a sha256 hex digest"]
    with newest.path.open("rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if actual != expected:
        metrics["checksum"] = "mismatch"
        return [
            f"sha256 of {newest.path.name} is {actual[:12]}…, {side.name} says {expected[:12]}…"
        ]
    metrics["checksum"] = "ok"
    return []


def _pg_restore_list(newest: Backup, metrics: dict[str, Any]) -> list[str]:
    binary = shutil.which("pg_restore")
    if binary is None:
        return ["pg_restore_list is on but pg_restore is not installed on this machine"]
    done = subprocess.run(
        [binary, "--list", str(newest.path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        return [f"pg_restore cannot read {newest.path.name}: {first}"]
    metrics["toc_entries"] = sum(
        1 for line in done.stdout.splitlines() if line and not line.startswith(";")
    )
    return []


def drill_target(ctx: ProcedureContext, proc: BackupCheckProcedure) -> tuple[str, str | None]:
    """Where the drill restores to, for people (`scratch database tms-scratch (URL in
    TMS_SCRATCH_URL)`), and the variable holding its URL (None: the binder names none)."""
    params = proc.params
    if params.restore_to:
        system = ctx.systems.get(params.restore_to)
        variable = getattr(system, "url_env", None)
        return f"the database {params.restore_to} (URL in {variable})", variable
    variable = params.drill_database_url_env
    return f"the scratch database whose URL is in {variable}", variable


def _restore_drill(
    ctx: ProcedureContext, proc: BackupCheckProcedure, newest: Backup, metrics: dict[str, Any]
) -> list[str]:
    """Restore into a scratch database and ask it the sanity questions (each must be > 0)."""
    params = proc.params
    target, variable = drill_target(ctx, proc)
    if not variable:
        return [f"restore_drill is on but {target} is not a database system of the binder"]
    metrics["restore_to"] = target
    named = "restore_to" if params.restore_to else "drill_database_url_env"
    url = make_url(ctx.secret(variable, field_name=named))
    if url.get_backend_name() != "postgresql":
        return [f"the restore drill needs a PostgreSQL scratch database, not {url.drivername}"]
    binary = shutil.which("pg_restore")
    if binary is None:
        return ["restore_drill is on but pg_restore is not installed on this machine"]
    libpq = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = environment.for_child({"PGPASSWORD": url.password} if url.password else {})
    started = time.monotonic()
    done = subprocess.run(
        [
            binary,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-acl",
            "--dbname",
            libpq,
            str(newest.path),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or ["no message"])[0]
        return [f"restore drill of {newest.path.name} failed: {first}"]
    findings = []
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SET TRANSACTION READ ONLY"))
            for query in params.sanity_queries:
                # colons escaped: `:x` in the binder's SQL is text, not a bind parameter
                value = conn.execute(text(query.replace(":", r"\:"))).scalar()
                if not value:
                    findings.append(f"restore drill: sanity query {query!r} returned {value!r}")
    except Exception as exc:  # the query text is the binder's; its error is the finding
        findings.append(f"restore drill: sanity query failed: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    metrics["drill_seconds"] = round(time.monotonic() - started, 1)
    return findings


def _fail(reason: str) -> ProcedureResult:
    return ProcedureResult("failed", reason, {}, [reason])


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
