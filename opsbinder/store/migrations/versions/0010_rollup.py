"""rollup: run_days, the runs' report figures per client, procedure and UTC day, kept by triggers

Every writer of `runs` (the run service, the missed-run sweep, housekeeping's trim, a cascade, a
COPY, a test's INSERT) changes the roll-up in the same statement, so it cannot drift from the
runs it sums: an insert adds the run's contribution (an upsert), a delete subtracts it, an update
subtracts the old row's and adds the new row's. Each is a commutative change of one row's
counters, so concurrent writers only queue on the one (procedure, day) row they share.

`on_time` depends on the procedure's grace, so a change of `procedures.grace_seconds` recomputes
that procedure's days from its runs. Days are UTC days: SQLite cannot compute a local day in SQL,
and a client-calendar month reads its part-days at the edges from `runs` (opsbinder/reports/
run_days.py). Each figure below must stay the expression of opsbinder/reports/figures.py's
run_figures; tests/reports/test_run_days.py proves the two equal after random writes.

Note for later migrations: on SQLite a batch (move-and-copy) alter of `runs` or `procedures`
drops these triggers; tests/reports/test_run_days.py checks they are present after all heads.

Revision ID: 0010_rollup
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rollup"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
COUNTS = ("runs", "ok", "failed", "skipped", "missed", "due", "on_time")
SUMS = ("rows_purged", "bytes_archived")
FIGURES = COUNTS + SUMS


def _figures(dialect: str, r: str, grace: str) -> dict[str, str]:
    """One run's contribution to each figure, as SQL over the row named `r`."""
    if dialect == "postgresql":
        late = f"EXTRACT(epoch FROM {r}.started_at - {r}.scheduled_for)"

        def metric(name: str) -> str:
            return f"COALESCE(CAST({r}.metrics ->> '{name}' AS FLOAT), 0)"
    else:
        late = f"(julianday({r}.started_at) - julianday({r}.scheduled_for)) * 86400.0"

        def metric(name: str) -> str:
            return f"COALESCE(CAST(json_extract({r}.metrics, '$.{name}') AS FLOAT), 0)"

    due = f"{r}.scheduled_for IS NOT NULL AND {r}.outcome <> 'skipped'"
    conditions = {
        "runs": f"{r}.outcome NOT IN ('missed', 'skipped')",
        "ok": f"{r}.outcome = 'ok'",
        "failed": f"{r}.outcome IN ('failed', 'crashed', 'timed_out', 'cancelled')",
        "skipped": f"{r}.outcome = 'skipped'",
        "missed": f"{r}.outcome = 'missed'",
        "due": due,
        "on_time": f"{due} AND {r}.outcome <> 'missed' AND {late} <= {grace}",
    }
    out = {name: f"CASE WHEN {cond} THEN 1 ELSE 0 END" for name, cond in conditions.items()}
    out["rows_purged"] = metric("rows_deleted")
    out["bytes_archived"] = metric("bytes_archived")
    return out


def _day(dialect: str, r: str) -> str:
    if dialect == "postgresql":
        return f"CAST(({r}.started_at AT TIME ZONE 'UTC') AS DATE)"
    return f"date({r}.started_at)"


_KEY = "client_id, procedure_id, day"
_ADD = ", ".join(f"{f} = run_days.{f} + excluded.{f}" for f in FIGURES)


def _add_row(dialect: str, r: str) -> str:
    """The run `r` (NEW) added: an upsert of its day's row."""
    fig = _figures(dialect, r, "p.grace_seconds")
    return (
        f"INSERT INTO run_days ({_KEY}, {', '.join(FIGURES)}) "
        f"SELECT {r}.client_id, {r}.procedure_id, {_day(dialect, r)}, "
        f"{', '.join(fig[f] for f in FIGURES)} "
        f"FROM procedures p WHERE p.id = {r}.procedure_id AND NOT {r}.dry_run "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET {_ADD};"
    )


def _take_row(dialect: str, r: str) -> str:
    """The run `r` (OLD) taken away; no row to take from means a cascade already removed it."""
    grace = f"(SELECT grace_seconds FROM procedures WHERE id = {r}.procedure_id)"
    fig = _figures(dialect, r, grace)
    sets = ", ".join(f"{f} = run_days.{f} - ({fig[f]})" for f in FIGURES)
    return (
        f"UPDATE run_days SET {sets} WHERE client_id = {r}.client_id "
        f"AND procedure_id = {r}.procedure_id AND day = {_day(dialect, r)} AND NOT {r}.dry_run;"
    )


def _recompute(dialect: str, where: str) -> str:
    """The days of the runs matching `where` (over runs r, procedures p), summed afresh."""
    fig = _figures(dialect, "r", "p.grace_seconds")
    return (
        f"INSERT INTO run_days ({_KEY}, {', '.join(FIGURES)}) "
        f"SELECT r.client_id, r.procedure_id, {_day(dialect, 'r')}, "
        f"{', '.join(f'SUM({fig[f]})' for f in FIGURES)} "
        f"FROM runs r JOIN procedures p ON p.id = r.procedure_id "
        f"WHERE NOT r.dry_run AND {where} "
        f"GROUP BY r.client_id, r.procedure_id, {_day(dialect, 'r')} "
        f"ON CONFLICT ({_KEY}) DO UPDATE SET {_ADD};"
    )


_WATCHED = "client_id, procedure_id, started_at, scheduled_for, outcome, dry_run, metrics"


def _sqlite_triggers() -> list[str]:
    return [
        f"CREATE TRIGGER run_days_insert AFTER INSERT ON runs BEGIN {_add_row('sqlite', 'NEW')} END",
        f"CREATE TRIGGER run_days_delete AFTER DELETE ON runs BEGIN {_take_row('sqlite', 'OLD')} END",
        f"CREATE TRIGGER run_days_update AFTER UPDATE OF {_WATCHED} ON runs BEGIN "
        f"{_take_row('sqlite', 'OLD')} {_add_row('sqlite', 'NEW')} END",
        "CREATE TRIGGER run_days_grace AFTER UPDATE OF grace_seconds ON procedures "
        "WHEN OLD.grace_seconds IS NOT NEW.grace_seconds BEGIN "
        "DELETE FROM run_days WHERE procedure_id = NEW.id; "
        f"{_recompute('sqlite', 'r.procedure_id = NEW.id')} END",
    ]


def _postgresql_triggers() -> list[str]:
    return [
        "CREATE FUNCTION run_days_of_runs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {_take_row('postgresql', 'OLD')} END IF; "
        f"IF TG_OP IN ('UPDATE', 'INSERT') THEN {_add_row('postgresql', 'NEW')} END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER run_days_insert_delete AFTER INSERT OR DELETE ON runs "
        "FOR EACH ROW EXECUTE FUNCTION run_days_of_runs()",
        f"CREATE TRIGGER run_days_update AFTER UPDATE OF {_WATCHED} ON runs "
        "FOR EACH ROW EXECUTE FUNCTION run_days_of_runs()",
        "CREATE FUNCTION run_days_of_grace() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "DELETE FROM run_days WHERE procedure_id = NEW.id; "
        f"{_recompute('postgresql', 'r.procedure_id = NEW.id')} RETURN NULL; END $$",
        "CREATE TRIGGER run_days_grace AFTER UPDATE OF grace_seconds ON procedures FOR EACH ROW "
        "WHEN (OLD.grace_seconds IS DISTINCT FROM NEW.grace_seconds) "
        "EXECUTE FUNCTION run_days_of_grace()",
    ]


def upgrade() -> None:
    op.create_table(
        "run_days",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("procedure_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in SUMS),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_run_days_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_run_days_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "procedure_id", "day", name=op.f("pk_run_days")),
    )
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)
    op.execute(_recompute(dialect, "1 = 1"))  # the runs already in the store


def downgrade() -> None:
    for trigger, table in (
        ("run_days_insert", "runs"),
        ("run_days_delete", "runs"),
        ("run_days_insert_delete", "runs"),
        ("run_days_update", "runs"),
        ("run_days_grace", "procedures"),
    ):
        on = f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS run_days_of_runs()")
        op.execute("DROP FUNCTION IF EXISTS run_days_of_grace()")
    op.drop_table("run_days")
