"""index the people with work in flight, per connection

Claims skip people whose earlier item is still leased (in flight) with a NOT EXISTS over this
partial index, instead of a NOT IN list of every person in flight: a list of 5,000 ids made
SQLite cache a prepared statement of about 1 MB per distinct length.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WHERE = "status = 'leased'"


def upgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_work_leased_person",
            # status as a column too: with three equality terms SQLite's planner, which has
            # no statistics, prefers this index to ix_work_claim for the NOT EXISTS lookup
            ["connection_id", "person_id", "status"],
            sqlite_where=sa.text(WHERE),
            postgresql_where=sa.text(WHERE),
        )


def downgrade() -> None:
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_work_leased_person",
            sqlite_where=sa.text(WHERE),
            postgresql_where=sa.text(WHERE),
        )
