"""Finish what a killed archive run left, before the next one exports anything new.

A manifest that is not marked done may have rows still in the source: they are deleted now,
after the file is verified again, and only if the manifest is this procedure's own (same
client, procedure, system, database and table: archive_origin). Any other manifest is foreign:
its rows exist in another database, and keys that happen to be equal here are other rows, so it
is left alone and reported. Partial files and data files without a manifest are discarded, but
only in the procedure's own folder; the old shared layout is read, never cleaned.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from opsbinder.procedures import archive_files as files
from opsbinder.procedures import archive_layout as layout
from opsbinder.procedures import targets

if TYPE_CHECKING:
    from opsbinder.procedures.archive import Archive


def recover(job: Archive, folder: Path, *, legacy: bool) -> None:
    every = files.manifests_in(folder)
    ours = [m for m in every if job.origin.owns(m.body, legacy=legacy)]
    foreign = [m for m in every if m not in ours and not files.is_done(m)]
    if not legacy:
        _discard_leftovers(folder, job.params.table, every)
    for manifest in ours:
        if not files.is_done(manifest) and "partition" not in manifest.body:
            _finish(job, manifest)
    job.metrics["foreign_manifests"] += [str(m.path) for m in foreign]


def _discard_leftovers(folder: Path, table: str, manifests: list[files.Manifest]) -> None:
    """Partial files, and data files that never got a manifest: redone under the same name."""
    kept = {m.data_file.name for m in manifests}
    prefix = layout.table_prefix(table)
    for leftover in folder.iterdir():
        if leftover.name.endswith(files.PART_SUFFIX) or (
            leftover.name.startswith(prefix)
            and not leftover.name.endswith(
                (files.MANIFEST_SUFFIX, files.DONE_SUFFIX, layout.INTENT_SUFFIX)
            )
            and leftover.name not in kept
        ):
            leftover.unlink()


def _finish(job: Archive, manifest: files.Manifest) -> None:
    lo = job.key.decode(manifest.body["key_min"])
    hi = job.key.decode(manifest.body["key_max"])
    with job.engine.connect() as conn:
        present = conn.execute(
            select(*job.key.columns).where(job.key.within(lo, hi)).limit(1)
        ).first()
    if present is None:
        files.mark_done(manifest)
        return
    if not manifest.data_file.exists():
        # killed between the manifest's rename and the directory fsync (see commit_part):
        # nothing was deleted for it, so it is dropped and the batch redone
        manifest.path.unlink()
        return
    rows = files.read_verified(manifest)
    keys = [job.key.decode(job.key.of_row(r)) for r in rows]
    before = job.metrics["rows_deleted"]
    job.delete_keys(keys, _cut_of(job, manifest))
    files.mark_done(manifest)
    job.metrics["recovered_rows"] += job.metrics["rows_deleted"] - before


def _cut_of(job: Archive, manifest: files.Manifest) -> datetime | date:
    """The cutoff the rows were archived under: the interrupted run is finished by its own
    rule, whatever the retention says today."""
    written = manifest.body.get("cutoff")
    if not isinstance(written, str):
        return job.cut
    return targets.cutoff_value(job.age, datetime.fromisoformat(written))
