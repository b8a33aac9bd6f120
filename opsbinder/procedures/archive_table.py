"""Archive to a table in the client's own database: copy and delete share one transaction
per batch, so there is no window in which a row is in both places or in neither."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sqlalchemy import Column, MetaData, Table, insert, select
from sqlalchemy.exc import SQLAlchemyError

from opsbinder.procedures import targets

if TYPE_CHECKING:
    from opsbinder.procedures.archive import Archive


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
    dkey = dest.c[job.key.name]
    last = None
    while True:
        where = [job.age < job.cut] + ([job.key > last] if last is not None else [])
        started = time.perf_counter()
        with job.engine.begin() as conn:
            keys = list(
                conn.execute(
                    select(job.key).where(*where).order_by(job.key).limit(job.params.batch_size)
                ).scalars()
            )
            if not keys:
                return
            cols = list(job.table.c.keys())
            copied = conn.execute(
                insert(dest).from_select(
                    [dest.c[c] for c in cols],
                    select(*[job.table.c[c] for c in cols]).where(
                        job.key.in_(keys), job.key.not_in(select(dkey).where(dkey.in_(keys)))
                    ),
                )
            ).rowcount
            gone = conn.execute(job.table.delete().where(job.key.in_(keys))).rowcount
        job.metrics["longest_batch_ms"] = max(
            job.metrics.get("longest_batch_ms", 0),
            round((time.perf_counter() - started) * 1000, 1),
        )
        last = keys[-1]
        job.metrics["rows_archived"] += copied
        job.metrics["rows_deleted"] += gone
        done = job.metrics["rows_deleted"]
        job.ctx.progress(done, max(planned, done), f"moved {done:,} rows")
