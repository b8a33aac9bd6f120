"""incident source and component; heartbeat pings

Where an incident came from (a flow's hook, a person, a PagerDuty event, an Alertmanager alert,
a heartbeat) and which of the client's components it concerns; every existing incident was
opened by a flow. Heartbeat pings are kept like runs: one row per ping, its body as the ping's log.

Revision ID: 0003_incident_source
Revises: 0001_foundation
Create Date: 2026-12-01 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_incident_source"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="flow")
        )
        batch_op.add_column(sa.Column("component", sa.String(length=200), nullable=True))
        batch_op.create_index(
            "ix_incidents_client_component", ["client_id", "component"], unique=False
        )
    op.create_table(
        "heartbeat_pings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("heartbeat", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_heartbeat_pings_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeat_pings")),
    )
    with op.batch_alter_table("heartbeat_pings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_heartbeat_pings_client_heartbeat", ["client_id", "heartbeat", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("heartbeat_pings", schema=None) as batch_op:
        batch_op.drop_index("ix_heartbeat_pings_client_heartbeat")
    op.drop_table("heartbeat_pings")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_client_component")
        batch_op.drop_column("component")
        batch_op.drop_column("source")
