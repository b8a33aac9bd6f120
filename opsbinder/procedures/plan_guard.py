"""Before a purge or archive deletes anything, its plan is compared with what is normal.

A plan far above the configured maximum, or far above the usual amount of the last successful
runs, is usually a mistake (a wrong retention, a clock jump, a table restored from an old dump)
rather than a real backlog; it is refused unless a person approves the run. A refused plan ends
the run as *failed* (not skipped): nobody's data was touched, but the duty was not done and
someone has to decide, which is exactly what an incident is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from statistics import median
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, func, literal_column, select

from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, Run

HISTORY = 10  # how many earlier ok runs make "the usual amount"
MIN_HISTORY = 3  # fewer than this: no usual amount yet, only max_rows applies
SMALL_PLAN = 1000  # plans up to this size never trip the growth check
EXACT_BELOW = 100_000  # estimates below this are counted: cheap, and small tables lack statistics
NEAR = 4  # an estimate above 1/NEAR of a limit is counted exactly before the guard decides


@dataclass(frozen=True)
class Verdict:
    planned: int
    usual: float | None
    refusal: str | None  # None: go ahead

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def usual_amount(store: Engine, client_id: str, procedure_key: str, metric: str) -> float | None:
    """Median of `metric` over the last ok, non-dry runs of this procedure (None: too few)."""
    with session_scope(store) as session:
        rows = session.execute(
            select(Run.metrics)
            .join(Procedure, Procedure.id == Run.procedure_id)
            .where(
                Procedure.client_id == client_id,
                Procedure.key == procedure_key,
                Run.outcome == "ok",
                Run.dry_run.is_(False),
            )
            .order_by(Run.started_at.desc())
            .limit(HISTORY)
        ).scalars()
        amounts = [
            float(m[metric])
            for m in rows
            if isinstance(m, dict) and isinstance(m.get(metric), int | float)
        ]
    return median(amounts) if len(amounts) >= MIN_HISTORY else None


def check(
    planned: int,
    *,
    max_rows: int | None,
    max_growth: float,
    usual: float | None,
    approved: bool,
) -> Verdict:
    reasons = []
    if max_rows is not None and planned > max_rows:
        reasons.append(f"planned {planned:,} rows > max_rows {max_rows:,}")
    if usual is not None and planned > max(SMALL_PLAN, usual * max_growth):
        reasons.append(
            f"planned {planned:,} rows > {max_growth:g} x the usual {usual:,.0f} "
            f"(median of the last ok runs, max_growth {max_growth:g})"
        )
    if not reasons or approved:
        return Verdict(planned, usual, None)
    return Verdict(planned, usual, "; ".join(reasons) + "; re-run with --approve")


def limit(*, max_rows: int | None, max_growth: float, usual: float | None) -> float | None:
    """The largest plan `check` lets through without approval (None: any plan)."""
    limits: list[float] = []
    if max_rows is not None:
        limits.append(max_rows)
    if usual is not None:
        limits.append(max(SMALL_PLAN, usual * max_growth))
    return min(limits) if limits else None


@dataclass(frozen=True)
class Plan:
    rows: int
    estimated: bool  # from PostgreSQL's statistics, not counted

    @property
    def label(self) -> str:
        return f"about {self.rows:,}" if self.estimated else f"{self.rows:,}"


def planned_rows(
    conn: Connection, table: Table, where: ColumnElement[bool], *, most: float | None
) -> Plan:
    """How many rows `where` selects: counted, or estimated when that cannot change a verdict.

    Counting a million expired rows costs a scan of the age index, a tenth of the purge itself.
    So on PostgreSQL a large plan uses the planner's estimate when the guard allows more than
    NEAR times it (`most`; None when nothing would be refused); near or above the limit, and for
    small plans, it is counted. A badly stale estimate is caught while deleting: the batches
    stop before they pass `most` (see purge).
    """
    if conn.dialect.name == "postgresql":
        guess = estimated_rows(conn, select(literal_column("1")).select_from(table).where(where))
        if guess >= EXACT_BELOW and (most is None or guess * NEAR < most):
            return Plan(guess, estimated=True)
    return Plan(
        conn.execute(select(func.count()).select_from(table).where(where)).scalar_one(), False
    )


def estimated_rows(conn: Connection, query: Any) -> int:
    compiled = query.compile(dialect=conn.dialect)
    # psycopg2 hands back the JSON plan parsed, other drivers as text
    plan: Any = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
