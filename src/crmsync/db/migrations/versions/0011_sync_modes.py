"""sync modes

A connection's import mode (which CRM records reach the app) and export mode (what a push
writes into the CRM); existing connections keep today's behaviour (the defaults).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "import_mode",
                sa.String(length=32),
                server_default="match_existing",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("export_mode", sa.String(length=32), server_default="all", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("export_mode")
        batch_op.drop_column("import_mode")
