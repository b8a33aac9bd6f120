"""The frame purge and archive share: connect to the client's database, check the table against
its reflected schema, take the procedure's lock, and turn a user's mistake into a failed run."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, Table

from opsbinder.config.models import DatabaseSystem
from opsbinder.errors import OpsbinderError
from opsbinder.procedures import locks, targets
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult


def run_locked(
    ctx: ProcedureContext,
    system: DatabaseSystem | None,
    *,
    schema: str | None,
    table: str,
    columns: dict[str, str],
    work: Callable[[Engine, Table], ProcedureResult],
    check: Callable[[Table], None] = lambda _table: None,
    connections: int = 4,
    lean: bool = False,
) -> ProcedureResult:
    """`work` runs only while this run alone holds the lock; a held lock is a skipped run.
    At most `connections` connections to the client's database at once. `lean`: see
    targets.reflect."""
    try:
        engine = targets.connect(ctx, system, connections=connections)
    except OpsbinderError as exc:
        return _failed(exc)
    try:
        reflected = targets.reflect(
            engine, ctx, schema=schema, table=table, columns=columns, lean=lean
        )
        check(reflected)
        name = f"{ctx.client_id}/{ctx.procedure_id}"
        with locks.procedure_lock(engine, name, ctx.clock) as held:
            if held is not None:
                return ProcedureResult("skipped", held.reason, findings=[held.reason])
            return work(engine, reflected)
    except OpsbinderError as exc:
        return _failed(exc)
    finally:
        engine.dispose()


def _failed(exc: OpsbinderError) -> ProcedureResult:
    return ProcedureResult("failed", str(exc), findings=[str(exc)])
