"""conversations

The host's conversations with people, per org, and each connection's switch that exports them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crmsync.db.types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("person_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("occurred_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.Column("created_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.Column("updated_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["people.person_id"]),
        sa.PrimaryKeyConstraint("org_id", "id"),
    )
    with op.batch_alter_table("connections") as batch:
        batch.add_column(
            sa.Column(
                "conversations_enabled",
                sa.Boolean(),
                nullable=False,
                server_default=sa.text("false"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_column("conversations_enabled")
    op.drop_table("conversations")
