"""incident public view: public title and state apart from the internal ones, the duplicate
link to a primary incident, and the name a status update shows for its author

Revision ID: 0003_incident_public
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_incident_public"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_title", sa.String(length=500), nullable=True))
        batch_op.add_column(
            sa.Column(
                "public_state",
                sa.String(length=16),
                nullable=False,
                server_default="investigating",
            )
        )
        batch_op.add_column(sa.Column("primary_incident_id", _BigId, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_primary_incident_id_incidents"),
            "incidents",
            ["primary_incident_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # existing resolved incidents are resolved for their clients too
    op.execute("UPDATE incidents SET public_state = 'resolved' WHERE state = 'resolved'")
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("author_name", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.alter_column(
            "next_update_at", existing_type=sa.DateTime(timezone=True), nullable=True
        )


def downgrade() -> None:
    with op.batch_alter_table("status_updates", schema=None) as batch_op:
        batch_op.alter_column(
            "next_update_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_column("author_name")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_incidents_primary_incident_id_incidents"), type_="foreignkey"
        )
        batch_op.drop_column("primary_incident_id")
        batch_op.drop_column("public_state")
        batch_op.drop_column("public_title")
