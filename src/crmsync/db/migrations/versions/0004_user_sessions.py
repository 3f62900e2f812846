"""users.session_generation and users.disabled

Browser sessions are signed cookies: without a server-side check, a copy of one kept working
for its whole lifetime after Sign out. Each session now carries its user's generation, which
Sign out, a password change and disabling the user move on. ``disabled`` stops a user from
signing in without deleting them. Sessions signed in before this migration carry no
generation, so everyone signs in once more.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled")
        batch_op.drop_column("session_generation")
