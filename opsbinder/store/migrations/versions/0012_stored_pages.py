"""stored_pages: a client's status page rendered by the writer of a change (issue 16)

Revision ID: 0012_stored_pages
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_stored_pages"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_pages",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("rendered_at", sa.Float(), nullable=False),
        sa.Column("pending_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_stored_pages_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_stored_pages")),
    )


def downgrade() -> None:
    op.drop_table("stored_pages")
