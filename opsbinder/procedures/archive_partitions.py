"""Archive whole expired partitions of a range-partitioned PostgreSQL table (`partitions:
whole`): detach, export, verify, drop. What DBAs do, and far faster than deleting row by row.

Each step is durable before the next one starts:
1. an intent file names the partition and this procedure's origin (fsynced), then
2. DETACH PARTITION: from now on no row enters or leaves it through the parent;
3. the detached table is exported in one snapshot, streamed through the compressor to disk
   (never held in memory: archive_stream), fsynced, read back and verified like a batch;
4. its manifest is written durably: from now on the table may go;
5. DROP TABLE, after counting its rows against the manifest once more;
6. the manifest is marked done and the intent removed.
The next run first finishes or rolls back what a killed one left (`recover`), for each intent
of its own origin: manifest done: the intent goes. Manifest: the file is verified again and the
table, if still there, dropped (5, 6). No manifest and the table still attached: the detach
never committed, so the intent goes and the partition is archived afresh. No manifest and the
table detached: steps 3 to 6. Every row is therefore always in the parent, in a detached table
an intent names, or in a verified file; and a partition with a manifest is never exported again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, MetaData, Table, func, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import DropTable

from opsbinder.errors import OpsbinderError, Refused
from opsbinder.procedures import archive_files as files
from opsbinder.procedures import archive_layout as layout
from opsbinder.procedures import archive_stream as stream
from opsbinder.procedures import targets
from opsbinder.procedures.archive_copy import copy_into
from opsbinder.procedures.archive_keys import Key

if TYPE_CHECKING:
    from opsbinder.procedures.archive import Archive


class PartitionChanged(OpsbinderError):
    """A detached partition no longer holds what its verified archive holds: it is kept."""


def expired(job: Archive) -> list[targets.Partition]:
    """The partitions whose whole range is older than the cutoff (so every row in them is)."""
    found = targets.range_partitions(job.engine, job.table, job.params.age_column) or []
    return targets.expired_partitions(job.engine, found, job.age, job.cut)


def refusal(job: Archive) -> str | None:
    """Why `partitions: whole` cannot apply to this table, or None."""
    if targets.range_partitions(job.engine, job.table, job.age.name) is not None:
        return None
    return (
        f"{job.ctx.client_id}/{job.ctx.procedure_id}: params.partitions: whole needs a "
        f"PostgreSQL table range-partitioned on {job.age.name!r}, and {job.params.table!r} is "
        "not one (declarative partitioning is a PostgreSQL feature)"
    )


def preview(job: Archive) -> str:
    """What a dry run adds: the partitions a run would detach, archive and drop."""
    names = [p.name for p in expired(job)]
    job.metrics["partitions_to_archive"] = names
    if not names:
        return ""
    return f"; whole partitions detached, archived and dropped: {', '.join(names)}"


def recover(job: Archive, folder: Path) -> None:
    for intent in _intents(folder):
        if job.origin.owns(intent.body):
            _resume(job, folder, intent)


def archive(job: Archive, folder: Path, part: targets.Partition) -> None:
    suffix = f".{job.params.format}.{files.EXTENSIONS[job.params.compression]}"
    data = layout.partition_file(folder, job.params.table, part.name, suffix)
    intent = files.Manifest(
        layout.intent_file(folder, job.params.table, part.name),
        {
            **job.origin.manifest_fields(),
            # the bound lets a restore create the dropped partition again (archive_restore)
            "partition": {"schema": part.schema, "name": part.name, "bound": part.bound},
            "file": data.name,
        },
    )
    intent.write()
    job.step("after_intent")
    with job.engine.begin() as conn:
        conn.execute(targets.DetachPartition(job.table, _child(part.schema, part.name)))
    job.step("after_detach")
    _export(job, folder, intent)


def _resume(job: Archive, folder: Path, intent: files.Manifest) -> None:
    part = intent.body["partition"]
    path = files.manifest_path(folder / intent.body["file"])
    if path.exists():
        manifest = files.Manifest.load(path)
        if files.is_done(manifest):
            intent.path.unlink()
            return
        if manifest.data_file.exists():
            stream.verify(manifest)
            _drop(job, manifest, intent)
            job.metrics["recovered_rows"] += manifest.body["rows"]
            return
        path.unlink()  # killed before the directory fsync that makes both names durable
    attached = targets.attached_to(job.engine, job.table, part["schema"], part["name"])
    if attached is None:
        raise PartitionChanged(
            f"partition {part['schema']}.{part['name']} was detached for archiving "
            f"({intent.path}) but is gone and has no archive; check who dropped it"
        )
    if attached:  # the detach never committed: nothing happened
        intent.path.unlink()
        return
    _export(job, folder, intent)


def _export(job: Archive, folder: Path, intent: files.Manifest) -> None:
    """Steps 3 to 6 for a detached partition."""
    part = intent.body["partition"]
    child = Table(part["name"], MetaData(), schema=part["schema"], autoload_with=job.engine)
    key = Key(child, job.key.names)
    snapshot = job.engine.connect().execution_options(isolation_level="REPEATABLE READ")
    with snapshot as conn, conn.begin():
        rows = conn.execute(select(func.count()).select_from(child)).scalar_one()
        ends = [
            conn.execute(select(*key.columns).order_by(*order).limit(1)).first()
            for order in (key.columns, [c.desc() for c in key.columns])
        ]
        everything = select(child).order_by(*key.columns)
        part_file, digest, size = stream.write_part(
            folder / intent.body["file"],
            lambda out: copy_into(conn, everything, list(key.names), job.params.format, out),
            job.params.compression,
        )
    lo, hi = (None, None) if not rows else (key.of_row(e._mapping) for e in ends)  # type: ignore[union-attr]
    manifest = job.seal(part_file, digest, size, rows, lo, hi, {"partition": part})
    stream.verify(manifest)  # read back from disk before the manifest allows the drop
    job.commit(manifest)
    _drop(job, manifest, intent)


def _drop(job: Archive, manifest: files.Manifest, intent: files.Manifest) -> None:
    part = manifest.body["partition"]
    child = _child(part["schema"], part["name"])
    with job.engine.begin() as conn:
        if inspect(conn).has_table(part["name"], schema=part["schema"]):
            rows = conn.execute(select(func.count()).select_from(child)).scalar_one()
            if rows != manifest.body["rows"]:
                raise PartitionChanged(
                    f"partition {part['schema']}.{part['name']} holds {rows:,} rows, its "
                    f"verified archive {manifest.body['rows']:,} (rows were written into the "
                    f"detached table?); it is kept: compare it with {manifest.data_file}"
                )
            conn.execute(DropTable(child))
    job.step("after_drop")
    files.mark_done(manifest)
    intent.path.unlink()
    job.metrics["rows_deleted"] += manifest.body["rows"]
    job.metrics["partitions_archived"] += 1
    job.metrics["partitions"].append(part["name"])
    job.metrics["manifests"].append(str(manifest.path))


def _child(schema: str, name: str) -> Table:
    return Table(name, MetaData(), schema=schema)


def _intents(folder: Path) -> list[files.Manifest]:
    return [files.Manifest.load(p) for p in sorted(folder.glob("*" + layout.INTENT_SUFFIX))]


def is_partition_manifest(manifest: files.Manifest) -> bool:
    """Finished here, not by row recovery: its keys are in no table's key range any more."""
    return "partition" in manifest.body


# PostgreSQL's spelling of a range partition's bound, as recorded: quoted literals without
# quotes or percent signs in them, MINVALUE or MAXVALUE. Anything else in a manifest is not run as SQL.
_BOUND = re.compile(
    r"FOR VALUES FROM \((?P<lo>(?:'[^'%]*'|MINVALUE|MAXVALUE)(?:, (?:'[^'%]*'|MINVALUE|MAXVALUE))*)\)"
    r" TO \((?P<hi>(?:'[^'%]*'|MINVALUE|MAXVALUE)(?:, (?:'[^'%]*'|MINVALUE|MAXVALUE))*)\)"
)
_COVERED = {"42P17", "23514"}  # overlaps a partition, or a default partition holds the range


def recreate(engine: Engine, parent: Table, manifests: list[files.Manifest]) -> list[str]:
    """Create again, before a restore into range-partitioned `parent`, the partitions whose
    archives are restored and which were dropped when archived (PostgreSQL routes each row to
    its partition and refuses one that has none). Their names, schema-qualified."""
    if not targets.is_partitioned(engine, parent):
        return []
    quote = engine.dialect.identifier_preparer
    created = []
    for manifest in manifests:
        part = manifest.body.get("partition")
        there = part and targets.attached_to(engine, parent, part["schema"], part["name"])
        if part is None or there:
            continue
        name = f"{quote.quote(part['schema'])}.{quote.quote(part['name'])}"
        bound = part.get("bound") or ""
        create = f"CREATE TABLE {name} PARTITION OF {quote.format_table(parent)} "
        if there is False:
            raise Refused(
                f"partition {part['schema']}.{part['name']} of {parent.name} exists but is not "
                f"attached; attach it first: ALTER TABLE {quote.format_table(parent)} ATTACH "
                f"PARTITION {name} {bound or 'FOR VALUES FROM (...) TO (...)'};"
            )
        if not _BOUND.fullmatch(bound):
            raise Refused(
                f"partition {part['schema']}.{part['name']} of {parent.name} was dropped when "
                f"archived and {manifest.path} records no usable bounds for it; create it "
                f"first: {create}FOR VALUES FROM ('<lower bound>') TO ('<upper bound>');"
            )
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(create + bound)
        except DBAPIError as exc:
            if getattr(exc.orig, "pgcode", None) not in _COVERED:
                raise
            continue  # another partition takes these rows: nothing to create
        created.append(f"{part['schema']}.{part['name']}")
    return created
