"""rollup months: run_months, run_days summed per UTC month, kept by triggers on run_days

A daily procedure has one run a day, so run_days alone is as long as the runs it sums; the
all-clients report over seven months needs a coarser level. Each change of a run_days row (the
runs triggers' upserts and updates, a grace recount's delete and insert, a cascade) moves its
month's row by the same amount, so run_months stays the sum of run_days as run_days stays the
sum of runs. Reports read whole UTC months from here (opsbinder/reports/run_days.py).

Revision ID: 0011_rollup_months
Revises: 0010_rollup
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_rollup_months"
down_revision = "0010_rollup"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = ("runs", "ok", "failed", "skipped", "missed", "due", "on_time")
SUMS = ("rows_purged", "bytes_archived")
FIGURES = COUNTS + SUMS
_KEY = "client_id, procedure_id, month"


def _month(dialect: str, day: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('month', CAST({day} AS TIMESTAMP)) AS DATE)"
    return f"date({day}, 'start of month')"


def _add(dialect: str, r: str) -> str:
    sets = ", ".join(f"{f} = run_months.{f} + excluded.{f}" for f in FIGURES)
    return (
        f"INSERT INTO run_months ({_KEY}, {', '.join(FIGURES)}) "
        f"SELECT {r}.client_id, {r}.procedure_id, {_month(dialect, f'{r}.day')}, "
        f"{', '.join(f'{r}.{f}' for f in FIGURES)} WHERE 1 = 1 "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET {sets};"
    )


def _take(dialect: str, r: str) -> str:
    """No row to take from means a cascade already removed it."""
    sets = ", ".join(f"{f} = run_months.{f} - {r}.{f}" for f in FIGURES)
    return (
        f"UPDATE run_months SET {sets} WHERE client_id = {r}.client_id "
        f"AND procedure_id = {r}.procedure_id AND month = {_month(dialect, f'{r}.day')};"
    )


def _triggers(dialect: str) -> list[str]:
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION run_months_of_days() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_take(dialect, 'OLD')} END IF; "
            f"IF TG_OP IN ('UPDATE', 'INSERT') THEN {_add(dialect, 'NEW')} END IF; "
            "RETURN NULL; END $$",
            "CREATE TRIGGER run_months_of_days AFTER INSERT OR UPDATE OR DELETE ON run_days "
            "FOR EACH ROW EXECUTE FUNCTION run_months_of_days()",
        ]
    return [
        f"CREATE TRIGGER run_months_insert AFTER INSERT ON run_days BEGIN {_add(dialect, 'NEW')} END",
        f"CREATE TRIGGER run_months_delete AFTER DELETE ON run_days BEGIN {_take(dialect, 'OLD')} END",
        "CREATE TRIGGER run_months_update AFTER UPDATE ON run_days BEGIN "
        f"{_take(dialect, 'OLD')} {_add(dialect, 'NEW')} END",
    ]


def upgrade() -> None:
    op.create_table(
        "run_months",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("procedure_id", _ID, nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in SUMS),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_run_months_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_run_months_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "procedure_id", "month", name=op.f("pk_run_months")),
    )
    dialect = op.get_bind().dialect.name
    for statement in _triggers(dialect):
        op.execute(statement)
    month = _month(dialect, "day")
    op.execute(  # the days already rolled up
        f"INSERT INTO run_months ({_KEY}, {', '.join(FIGURES)}) "
        f"SELECT client_id, procedure_id, {month}, {', '.join(f'SUM({f})' for f in FIGURES)} "
        f"FROM run_days GROUP BY client_id, procedure_id, {month}"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS run_months_of_days ON run_days")
        op.execute("DROP FUNCTION IF EXISTS run_months_of_days()")
    else:
        for trigger in ("run_months_insert", "run_months_delete", "run_months_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.drop_table("run_months")
