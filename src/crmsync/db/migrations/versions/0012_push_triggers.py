"""push triggers

A connection's push switches (``push_enabled``, ``push_on_unlock``) and its score threshold,
the score the host last reported for each of an org's records, and when the host last
assigned a record's owner (a to-do).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crmsync.db.types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column("push_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False)
        )
        batch.add_column(
            sa.Column(
                "push_on_unlock", sa.Boolean(), server_default=sa.text("true"), nullable=False
            )
        )
        batch.add_column(sa.Column("push_score_threshold", sa.Float(), nullable=True))
    with op.batch_alter_table("org_records") as batch:
        batch.add_column(
            sa.Column("owner_assigned_at", crmsync.db.types.Timestamp(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("org_records") as batch:
        batch.drop_column("score")
        batch.drop_column("owner_assigned_at")
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("push_score_threshold")
        batch.drop_column("push_on_unlock")
        batch.drop_column("push_enabled")
