"""Bring archived rows back into a table: the rollback of an archive run.

Every file is checked against its manifest (sha256, row count, key range) before any row is
inserted, and rows whose key (one column or several: archive_keys) is already in the table are
skipped, so a restore can be repeated or resumed without creating duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, MetaData, Table, inspect, select

from opsbinder.errors import NotFound, Refused
from opsbinder.procedures import archive_files as files
from opsbinder.procedures import archive_partitions
from opsbinder.procedures.archive_keys import Key
from opsbinder.procedures.targets import TargetError

CHUNK = 1000


@dataclass
class Restored:
    manifests: int = 0
    rows_restored: int = 0
    rows_skipped: int = 0
    files: list[str] = field(default_factory=list)
    partitions_created: list[str] = field(default_factory=list)


def manifests_of(folder: Path) -> list[files.Manifest]:
    """Every manifest in a folder given by hand, if they all come from one client's procedure:
    a folder of the old shared layout may mix clients, whose rows must not meet."""
    if not folder.is_dir():
        raise NotFound(f"{folder}: no such archive folder")
    found = files.manifests_in(folder)
    if not found:
        raise NotFound(f"{folder}: no archive manifests (*{files.MANIFEST_SUFFIX}) in it")
    origins = sorted({_origin(m) for m in found})
    if len(origins) > 1:
        raise Refused(
            f"{folder} holds archives of {len(origins)} procedures ({', '.join(origins)}); "
            "restore by procedure instead: opsbinder archive restore CLIENT/PROCEDURE --into ..."
        )
    return found


def manifests_for(folders: list[Path], client: str, procedure: str) -> list[files.Manifest]:
    """The manifests one client's procedure wrote, in its folder and in the old shared one."""
    found = [
        m
        for folder in folders
        if folder.is_dir()
        for m in files.manifests_in(folder)
        if _origin(m) == f"{client}/{procedure}"
    ]
    if not found:
        where = " or ".join(str(f) for f in folders)
        raise NotFound(f"no archive manifests of {client}/{procedure} in {where}")
    return found


def _origin(manifest: files.Manifest) -> str:
    return f"{manifest.body.get('client', '?')}/{manifest.body.get('procedure', '?')}"


def into_table(engine: Engine, qualified: str) -> Table:
    schema, _, name = qualified.rpartition(".")
    if not inspect(engine).has_table(name, schema=schema or None):
        raise TargetError(f"--into: no table {qualified!r} in the target database")
    return Table(name, MetaData(), schema=schema or None, autoload_with=engine)


def restore(engine: Engine, table: Table, manifests: list[files.Manifest]) -> Restored:
    """Verify every file first (nothing is inserted from a corrupt archive), then insert."""
    verified = [(m, files.read_verified(m)) for m in manifests]
    for manifest, _rows in verified:
        names = [c["name"] for c in manifest.body["columns"]]
        missing = [n for n in names if n not in table.c]
        if missing:
            raise TargetError(
                f"--into: table {table.name!r} lacks the archived columns {', '.join(missing)} "
                f"(manifest {manifest.path})"
            )
    done = Restored(partitions_created=archive_partitions.recreate(engine, table, manifests))
    for manifest, rows in verified:
        key = Key.of(table, manifest.body["key_column"])
        for start in range(0, len(rows), CHUNK):
            chunk = [
                {name: files.decode(value, table.c[name]) for name, value in row.items()}
                for row in rows[start : start + CHUNK]
            ]
            with engine.begin() as conn:
                wanted = [key.of_row(r) for r in chunk]
                found = conn.execute(select(*key.columns).where(key.among(wanted)))
                there = {key.of_row(r._mapping) for r in found}
                fresh = [r for r in chunk if key.of_row(r) not in there]
                if fresh:
                    conn.execute(table.insert(), fresh)
            done.rows_restored += len(fresh)
            done.rows_skipped += len(chunk) - len(fresh)
        done.manifests += 1
        done.files.append(str(manifest.data_file))
    return done
