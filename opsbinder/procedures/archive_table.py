"""Archive to a table in the client's own database: copy and delete share one transaction
per batch, so there is no window in which a row is in both places or in neither.

A key already in the archive table (rows put back with INSERT ... SELECT and not removed from
the archive) is neither copied nor deleted: the source row may have changed since, and deleting
it would lose that. Such rows stay where they are and the run fails naming them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, MetaData, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from opsbinder.errors import OpsbinderError
from opsbinder.procedures import targets
from opsbinder.procedures.archive_keys import Key

if TYPE_CHECKING:
    from opsbinder.procedures.archive import Archive


SAMPLE = 10  # keys named in a run's metrics when rows could not move


class MoveMismatch(OpsbinderError):
    """A batch would delete other rows than it copied; it was rolled back."""


def _archive_table(job: Archive) -> Table:
    schema, _, name = job.params.destination.rpartition(".")
    dest = Table(
        name,
        MetaData(),
        *[Column(c.name, c.type, primary_key=c.primary_key) for c in job.table.c],
        schema=schema or None,
    )
    try:
        dest.create(job.engine, checkfirst=True)
    except SQLAlchemyError as exc:
        raise targets.TargetError(
            f"{job.ctx.client_id}/{job.ctx.procedure_id}: params.destination: cannot create "
            f"the archive table {job.params.destination!r}: {str(exc).splitlines()[0]}"
        ) from exc
    return Table(name, MetaData(), schema=schema or None, autoload_with=job.engine)


def move_rows(job: Archive, planned: int) -> None:
    dest = _archive_table(job)
    missing = [c for c in job.table.c.keys() if c not in dest.c]  # noqa: SIM118
    if missing:
        raise targets.TargetError(
            f"{job.ctx.client_id}/{job.ctx.procedure_id}: params.destination: the archive "
            f"table {job.params.destination!r} lacks columns {', '.join(missing)}"
        )
    dkey = Key(dest, job.key.names)
    cols = list(job.table.c.keys())
    job.metrics["keys_already_archived"] = 0
    sample: list[Any] = []
    last = None
    while True:
        where = [job.age < job.cut] + ([job.key.after(last)] if last is not None else [])
        started = time.perf_counter()
        with job.engine.begin() as conn:
            oldest = select(*job.key.columns).where(*where).order_by(*job.key.columns)
            # a batch's keys are bound in one statement: Key.fitting keeps them within limits
            found = conn.execute(oldest.limit(job.key.fitting(job.params.batch_size)))
            keys = [job.key.of_row(r._mapping) for r in found]
            if not keys:
                return
            copies = conn.execute(select(*dkey.columns).where(dkey.among(keys)))
            there = {dkey.of_row(r._mapping) for r in copies}
            moving = [k for k in keys if k not in there] if there else keys
            moved = [job.key.among(moving), job.age < job.cut]
            copied = conn.execute(
                insert(dest).from_select(
                    [dest.c[c] for c in cols],
                    select(*[job.table.c[c] for c in cols]).where(*moved),
                )
            ).rowcount
            job.step("after_copy")
            gone = conn.execute(job.table.delete().where(*moved)).rowcount
            if gone != copied:  # a row changed in between: leaving the transaction undoes both
                raise MoveMismatch(
                    f"the batch of keys {keys[0]!r}..{keys[-1]!r} copied {copied} rows but "
                    f"deleted {gone} (rows changed meanwhile); it was rolled back"
                )
        job.metrics["longest_batch_ms"] = max(
            job.metrics.get("longest_batch_ms", 0),
            round((time.perf_counter() - started) * 1000, 1),
        )
        last = keys[-1]
        if there:
            job.metrics["keys_already_archived"] += len(there)
            sample += [job.key.plain(k) for k in sorted(there)][: SAMPLE - len(sample)]
            job.metrics["keys_already_archived_sample"] = sample
        job.metrics["rows_archived"] += copied
        job.metrics["rows_deleted"] += gone
        done = job.metrics["rows_deleted"]
        job.ctx.progress(done, max(planned, done), f"moved {done:,} rows")


def left_behind(job: Archive) -> str | None:
    """Why the run failed although it moved what it could: keys it could not move, or None."""
    count = job.metrics.get("keys_already_archived", 0)
    if not count:
        return None
    sample = ", ".join(repr(k) for k in job.metrics["keys_already_archived_sample"])
    return (
        f"{count:,} rows were left in {job.params.table}: their keys are already in the archive "
        f"table {job.params.destination} (rows put back from it?), e.g. {sample}; compare the two "
        "copies and delete one, then re-run"
    )
