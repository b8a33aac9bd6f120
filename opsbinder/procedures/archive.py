"""Move old rows out of a client table: to compressed files with manifests, or to an archive table.

The order of work is what makes it safe. For each batch (keyset on the key column): write the
file, fsync it and its directory, read it back and verify it, write its manifest (also durable),
and only then delete exactly the keys the verified file holds. A run killed at any instant
leaves either a partial file without a manifest (discarded and redone by the next run, under the
same key-range name) or a manifest whose rows may still be in the source (the next run verifies
the file again and deletes them before exporting anything new, if the manifest names this
client, procedure, system and database: see archive_recovery). So nothing is lost and nothing
is archived twice. To a table, the copy and the delete share one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, select
from sqlalchemy.exc import SQLAlchemyError

from opsbinder.config.models import ArchiveProcedure, DatabaseSystem
from opsbinder.errors import OpsbinderError
from opsbinder.procedures import archive_deletes as deletes
from opsbinder.procedures import archive_files as files
from opsbinder.procedures import archive_layout as layout
from opsbinder.procedures import (
    archive_partitions,
    archive_recovery,
    archive_table,
    guarded,
    plan_guard,
    targets,
)
from opsbinder.procedures.ahead import Ahead
from opsbinder.procedures.archive_copy import copy_out
from opsbinder.procedures.archive_deletes import Held, Snapshots
from opsbinder.procedures.archive_keys import Key
from opsbinder.procedures.archive_origin import Origin, database_identity
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.dead_entries import DeadEntries
from opsbinder.procedures.result import ProcedureResult

DELETE_CHUNK = 10000  # keys per delete transaction: short locks on the client's table

# Called with the name of each instant between durable steps ("after_write", "after_fsync",
# "after_manifest", "mid_delete"; "after_copy" in a table move). None in production; a crash
# test sets it in the process it kills, to SIGKILL it or to damage a file at exactly that instant.
step_hook: Callable[[str], None] | None = None


def destination(ctx: ProcedureContext, proc: ArchiveProcedure) -> Path:
    return Path(ctx.expand(proc.params.destination))


def folder_for(ctx: ProcedureContext, proc: ArchiveProcedure) -> Path:
    """destination/<client>/<system>/<procedure>: no two clients or systems share a folder."""
    return layout.folder_for(destination(ctx, proc), ctx.client_id, proc.system or "-", proc.id)


def run(
    ctx: ProcedureContext, proc: ArchiveProcedure, system: DatabaseSystem | None
) -> ProcedureResult:
    p = proc.params

    names = p.key_columns

    def unique_key(table: Table) -> None:
        if not targets.is_unique(table, names):
            on = "it alone" if len(names) == 1 else "these columns or some of them"
            raise targets.TargetError(
                f"{ctx.client_id}/{ctx.procedure_id}: params.key_column: {p.key_column!r} is not "
                f"unique in {p.table!r} (no primary key, unique index or constraint on {on}); "
                "archive deletes by key, so it needs a unique one"
            )

    keys = {"key_column": names[0]} if len(names) == 1 else {
        f"key_column[{i}]": name for i, name in enumerate(names)
    }  # fmt: skip
    return guarded.run_locked(
        ctx,
        system,
        schema=p.schema_name,
        table=p.table,
        columns={"age_column": p.age_column, **keys},
        check=unique_key,
        connections=deletes.CONNECTIONS,
        work=lambda engine, table: Archive(ctx, proc, engine, table).run(),
    )


class Archive:
    def __init__(
        self, ctx: ProcedureContext, proc: ArchiveProcedure, engine: Engine, table: Table
    ) -> None:
        self.ctx, self.proc, self.params = ctx, proc, proc.params
        self.engine, self.table = engine, table
        self.key = Key(table, self.params.key_columns)
        self.age = table.c[self.params.age_column]
        local_cutoff = self.params.keep.cutoff(ctx.clock.now(), ZoneInfo(ctx.timezone))
        self.cutoff = local_cutoff.astimezone(UTC)
        self.cut = targets.cutoff_value(self.age, local_cutoff)
        self.origin: Origin  # set when writing files: it costs a query on the client database
        self.snapshots = Snapshots(engine)  # the exports' snapshots, open until deleted (PG)
        self.metrics: dict[str, Any] = {
            "cutoff": self.cutoff.isoformat(),
            "planned_rows": 0,
            "rows_archived": 0,
            "files": 0,
            "bytes_archived": 0,
            "rows_deleted": 0,
            "recovered_rows": 0,
            "foreign_manifests": [],
            "manifests": [],
            "partitions_archived": 0,
            "partitions": [],
        }

    @staticmethod
    def step(name: str) -> None:
        if step_hook is not None:
            step_hook(name)

    def run(self) -> ProcedureResult:
        whole = self.params.partitions == "whole"
        if whole and (reason := archive_partitions.refusal(self)):
            return ProcedureResult("failed", reason, self.metrics, [reason])
        with self.engine.connect() as conn:  # for progress only: an estimate when large
            plan = plan_guard.planned_rows(conn, self.table, self.age < self.cut, most=None)
        planned = plan.rows
        self.metrics["planned_rows"] = planned
        if plan.estimated:
            self.metrics["planned_estimated"] = True
        where = self._destination_label()
        if self.ctx.dry_run:
            return ProcedureResult(
                "ok",
                f"dry run: would archive {plan.label} rows of {self.params.table} older than "
                f"{self.cutoff:%Y-%m-%d} to {where}, deleting them by key {self.key.label}"
                + (archive_partitions.preview(self) if whole else ""),
                self.metrics,
            )
        try:
            if self.params.destination_type == "table":
                archive_table.move_rows(self, planned)
            else:
                self._to_files(planned)
        except (SQLAlchemyError, OSError, OpsbinderError) as exc:
            reason = (
                f"archive stopped after {self.metrics['rows_deleted']:,} deleted rows "
                f"(every deleted row is in a verified archive): {str(exc).splitlines()[0]}"
            )
            self._audit()
            return ProcedureResult("failed", reason, self.metrics, [reason])
        self._audit()
        stuck = archive_table.left_behind(self)
        if stuck:
            return ProcedureResult("failed", stuck, self.metrics, [stuck])
        summary = (
            f"archived {self.metrics['rows_archived']:,} rows of {self.params.table} older than "
            f"{self.cutoff:%Y-%m-%d} to {where} ({self.metrics['files']} files) and deleted "
            f"{self.metrics['rows_deleted']:,} from the source"
        )
        if self.metrics["partitions_archived"]:
            summary += f", {self.metrics['partitions_archived']} whole partitions dropped"
        foreign = self.metrics["foreign_manifests"]
        if foreign:
            summary += (
                f"; left alone {len(foreign)} unfinished archive(s) of another client, system or "
                f"database: {', '.join(foreign[:3])}{' ...' if len(foreign) > 3 else ''}"
            )
        return ProcedureResult("ok", summary, self.metrics)

    def _destination_label(self) -> str:
        if self.params.destination_type == "table":
            return self.params.destination
        return str(folder_for(self.ctx, self.proc))

    # --- files --------------------------------------------------------------------------------

    def _to_files(self, planned: int) -> None:
        folder = folder_for(self.ctx, self.proc)
        self.origin = Origin(
            client=self.ctx.client_id,
            procedure=self.ctx.procedure_id,
            system=self.proc.system or "-",
            database=database_identity(self.engine),
            schema=self.params.schema_name,
            table=self.params.table,
            key_column=self.key.spelled,
        )
        legacy = layout.legacy_folder(destination(self.ctx, self.proc), self.proc.id)
        if legacy.is_dir():
            archive_recovery.recover(self, legacy, legacy=True)
        folder.mkdir(parents=True, exist_ok=True)
        layout.inside(destination(self.ctx, self.proc), folder)
        archive_recovery.recover(self, folder, legacy=False)
        if self.params.partitions == "whole":
            archive_partitions.recover(self, folder)
            for partition in archive_partitions.expired(self):
                archive_partitions.archive(self, folder, partition)
        pg = self.engine.dialect.name == "postgresql"
        export = self._export_pg if pg else self._export_py

        Batch = tuple[bytes, list[Any], Held | None]

        def exported() -> Iterator[Batch]:
            last = None
            while True:
                where = [self.age < self.cut] + ([self.key.after(last)] if last is not None else [])
                batch = export(where)
                if batch is None:
                    return
                yield batch
                last = batch[1][-1]

        def written(batches: Iterator[Batch]) -> Iterator[Any]:
            for payload, keys, held in batches:
                data = files.compress(payload, self.params.compression)
                target = self._free_name(folder, keys[0], keys[-1])
                yield self.write_data(target, data, len(keys), keys[0], keys[-1]), keys, held

        def pipelined() -> Iterator[tuple[files.Manifest, list[Any], Held | None]]:
            with Ahead(exported) as batches:
                yield from written(batches)

        # On PostgreSQL the next batch is exported (its own snapshot, keys after the previous
        # one's) in one thread, and compressed, written and verified in another, while this
        # one's manifest is written and its rows deleted, in the export's snapshot (see
        # archive_deletes). A data file without a manifest is what a crash before the manifest
        # always left (redone by the next run), and manifests and deletes keep their order.
        # (SQLite has one writer: no overlap there.) Behind the deletes, another connection
        # walks the age index over the rows deleted (see dead_entries), so the check of what is
        # left does not visit each deleted row.
        ahead = Ahead(pipelined) if pg else nullcontext(written(exported()))
        behind = DeadEntries(self.engine, self.age, self.cut) if pg else nullcontext(None)
        with behind as self.snapshots.behind, ahead as batches:
            try:
                for manifest, keys, held in batches:
                    self.commit(manifest)
                    self.delete_keys(keys, self.cut, held)
                    files.mark_done(manifest)
                    self.metrics["manifests"].append(str(manifest.path))
                    done = self.metrics["rows_deleted"]
                    self.ctx.progress(done, max(planned, done), f"archived {done:,} rows")
            finally:
                # end the snapshots exported ahead (an export waiting for room gives up), and
                # hand the walks still waiting for them to the walker
                self.snapshots.close()

    def _export_py(self, where: list[Any]) -> tuple[bytes, list[Any], None] | None:
        """The next batch encoded in Python (SQLite, or any non-PostgreSQL target)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(self.table)
                .where(*where)
                .order_by(*self.key.columns)
                .limit(self.params.batch_size)
            ).all()
        if not rows:
            return None
        keys = [self.key.of_row(row._mapping) for row in rows]
        return files.encode_rows(rows, list(self.table.c.keys()), self.params.format), keys, None

    def _export_pg(self, where: list[Any]) -> tuple[bytes, list[Any], Held] | None:
        """The next batch written by PostgreSQL's COPY, and its keys, from one snapshot.

        The keys and the COPY run in one REPEATABLE READ transaction, so the file holds exactly
        the rows whose keys are later deleted; it stays open (`Held`) for the deletes to
        import its snapshot, until they are done (archive_deletes).
        """
        held = self.snapshots.hold()
        try:
            conn = held.conn
            assert conn is not None
            oldest = (
                select(*self.key.columns, self.age.label("_age"))
                .where(*where)
                .order_by(*self.key.columns)
                .limit(self.params.batch_size)
            ).subquery("k")
            # an array per key column instead of a row per key: several times faster to fetch
            keys, ages = self.key.arrays(conn, oldest, ages=oldest.c["_age"])
            if not keys:
                self.snapshots.release(held)
                return None
            rows = (
                select(self.table)
                .where(self.age < self.cut, self.key.within(keys[0], keys[-1]))
                .order_by(*self.key.columns)
            )
            payload = copy_out(conn, rows, list(self.key.names), self.params.format)
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            self.snapshots.exported(held, snapshot, ages)
        except BaseException:
            self.snapshots.release(held)
            raise
        return payload, keys, held

    def write_data(
        self, target: Path, data: bytes, rows: int, lo: Any, hi: Any, extra: Any = None
    ) -> files.Manifest:
        """Write one compressed batch (or partition) durably and verify it read back from
        disk; its manifest, returned, is not written yet (`commit` does: that is what allows
        the deletes, or the drop)."""
        part = files.write_part(target, data)
        manifest = self.seal(part, hashlib.sha256(data).hexdigest(), len(data), rows, lo, hi, extra)
        # read back from disk: sha256, row count and key range must match before any delete
        files.verified_payload(manifest)
        return manifest

    def seal(
        self, part: Path, digest: str, size: int, rows: int, lo: Any, hi: Any, extra: Any = None
    ) -> files.Manifest:
        """Make a written `.part` file durable under its final name; its manifest, to be
        verified against the file read back, then written by `commit`."""
        p = self.params
        self.step("after_write")
        final = files.commit_part(part, sync_dir=False)
        self.step("after_fsync")
        body = {
            **self.origin.manifest_fields(),
            "age_column": p.age_column,
            "columns": [{"name": c.name, "type": str(c.type)} for c in self.table.c],
            "format": p.format,
            "compression": p.compression,
            "file": final.name,
            "rows": rows,
            "key_min": None if lo is None else self.key.plain(lo),
            "key_max": None if hi is None else self.key.plain(hi),
            "sha256": digest,
            "bytes": size,
            "cutoff": self.cutoff.isoformat(),
            "created": self.ctx.clock.now().isoformat(),
            **(extra or {}),
        }
        return files.Manifest(files.manifest_path(final), body)

    def commit(self, manifest: files.Manifest) -> None:
        """Write the manifest of a verified file durably: from now on its rows may go."""
        manifest.write()
        self.step("after_manifest")
        self.metrics["files"] += 1
        self.metrics["rows_archived"] += manifest.body["rows"]
        self.metrics["bytes_archived"] += manifest.body["bytes"]

    def _free_name(self, folder: Path, lo: Any, hi: Any) -> Path:
        """Named by key range, so a redone batch overwrites its own partial file."""
        p = self.params
        suffix = f".{p.format}.{files.EXTENSIONS[p.compression]}"
        lo_label, hi_label = self.key.file_label(lo), self.key.file_label(hi)
        path, n = layout.data_file(folder, p.table, lo_label, hi_label, suffix), 1
        while files.manifest_path(path).exists():  # a verified archive of an earlier set
            n += 1
            path = layout.data_file(folder, p.table, lo_label, hi_label, suffix, n)
        return path

    def delete_keys(self, keys: list[Any], cut: datetime | date, held: Held | None = None) -> None:
        """Delete exactly these (archived) keys of rows still older than `cut`, in short
        transactions of DELETE_CHUNK keys; from the export's snapshot `held` (archive_deletes)."""
        deletes.delete_keys(self, keys, cut, DELETE_CHUNK, held)

    def _audit(self) -> None:
        self.metrics.update(
            targets.remaining(self.engine, self.age, self.cut, self.ctx.clock.now())
        )
        self.ctx.audit("archive.move", {k: v for k, v in self.metrics.items() if k != "manifests"})
