"""Where each purge batch ends, looked up one batch ahead on a second connection.

A batch is one range of the age index, `previous bound < age <= bound`, where `bound` is the age
`size` rows on. Finding it is an index scan of `size` entries: a sixth of the purge's time when
done before each delete. Here a thread finds the next bound while the current batch deletes (`ahead.Ahead`), on
a range the delete does not touch, so the two overlap (PostgreSQL runs them on two cores). The
bounds are only positions in the index: a row inserted meanwhile in a range still ahead is
deleted with it; the last range is everything left below the cutoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Engine, select


def bounds(engine: Engine, age: ColumnElement[Any], cut: Any, size: int) -> Iterator[Any]:
    """Successive bounds of batches of `size` rows below `cut`; last None, for "the rest"
    (fewer than `size` rows were left)."""
    # autocommit: one round trip per lookup, no BEGIN and COMMIT around it
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        where = [age < cut]
        while True:
            bound = conn.execute(
                select(age).where(*where).order_by(age).offset(size - 1).limit(1)
            ).scalar()
            yield bound
            if bound is None:
                return
            where = [age < cut, age > bound]
