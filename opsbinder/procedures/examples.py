"""Example entrypoints for custom procedures (config/example uses count_rows)."""

from __future__ import annotations

from sqlalchemy import MetaData, Table, create_engine, func, select
from sqlalchemy.exc import NoSuchTableError

from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult


def count_rows(ctx: ProcedureContext, *, system_env: str, table: str) -> ProcedureResult:
    """Count the rows of a table; the table name is checked against the reflected schema."""
    engine = create_engine(ctx.secret(system_env, field_name="arguments.system_env"))
    try:
        try:
            reflected = Table(table, MetaData(), autoload_with=engine)
        except NoSuchTableError:
            reason = f"table {table!r} does not exist in the database named by {system_env}"
            return ProcedureResult("failed", reason, {}, [reason])
        with engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(reflected)).scalar_one()
    finally:
        engine.dispose()
    return ProcedureResult("ok", f"{table}: {rows} rows", {"rows": int(rows), "table": table})
