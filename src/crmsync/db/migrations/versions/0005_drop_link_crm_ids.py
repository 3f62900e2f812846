"""drop links.crm_ids

Written as an empty object for every link and never read. A record's other ids (merged-away
records, a converted lead's contact) will live in link aliases of their own, unique per
connection, not in a JSON column no index can see.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_column("crm_ids")


def downgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("crm_ids", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
