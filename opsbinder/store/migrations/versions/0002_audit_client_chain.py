"""audit log: a per-client chain (client_prev_hash), indexes to walk it and to find an object

Each entry of a client also carries the hash of that client's previous entry, so
`audit verify --client X` walks X's own chain and a deleted entry of X shows even when the
global chain around it was re-linked. Entries written before this revision keep NULL there
(their hashes never covered it); the per-client walk starts at the first entry that has it.

Revision ID: 0002_audit_client_chain
Revises: 0001_foundation
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_audit_client_chain"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_prev_hash", sa.String(length=64), nullable=True))
        batch_op.drop_index(batch_op.f("ix_audit_log_client_id"))
        batch_op.create_index("ix_audit_log_client_seq", ["client_id", "seq"], unique=False)
        batch_op.create_index("ix_audit_log_object", ["object_type", "object_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_object")
        batch_op.drop_index("ix_audit_log_client_seq")
        batch_op.create_index(batch_op.f("ix_audit_log_client_id"), ["client_id"], unique=False)
        batch_op.drop_column("client_prev_hash")
