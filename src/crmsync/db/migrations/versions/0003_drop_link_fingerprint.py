"""drop links.fingerprint

A hash of the fields last written, computed and stored for every record written and never
read: the planner compares the written fields themselves. Dropping it saves a JSON encoding
and a SHA-256 per record on the hot path.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")


def downgrade() -> None:
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
