"""stored_pages: when each kept page next changes by time alone, and when it was last checked
(issue 16): the minutely sweep renders only the pages that are due.

`changes_at` and `checked_at` are the domain clock's epoch seconds; `marks` counts the writers'
changes (a render that read fewer is still owed). `pending_at` is dropped: nothing read it.

Revision ID: 0013_stored_pages_due
Revises: 0012_stored_pages
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_stored_pages_due"
down_revision = "0012_stored_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 0: a page kept before this revision is due, and rendered by the first sweep
    with op.batch_alter_table("stored_pages") as table:
        table.add_column(sa.Column("changes_at", sa.Float(), nullable=False, server_default="0"))
        table.add_column(sa.Column("checked_at", sa.Float(), nullable=False, server_default="0"))
        table.add_column(sa.Column("marks", sa.Integer(), nullable=False, server_default="0"))
        table.drop_column("pending_at")
    op.create_index("ix_stored_pages_changes_at", "stored_pages", ["changes_at"])
    op.create_index("ix_stored_pages_checked_at", "stored_pages", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_stored_pages_checked_at", table_name="stored_pages")
    op.drop_index("ix_stored_pages_changes_at", table_name="stored_pages")
    with op.batch_alter_table("stored_pages") as table:
        table.add_column(sa.Column("pending_at", sa.Float(), nullable=True))
        table.drop_column("marks")
        table.drop_column("checked_at")
        table.drop_column("changes_at")
