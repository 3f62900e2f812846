"""mapping catalogues

The org's custom app fields (declared by the host) and each connection's cached CRM field
catalogue, which the mappings are checked against.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crmsync.db.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_fields",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("value_kind", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.PrimaryKeyConstraint("org_id", "name"),
    )
    op.create_table(
        "crm_field_catalogues",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("crm_object", sa.String(length=80), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("fetched_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.PrimaryKeyConstraint("connection_id", "crm_object"),
    )


def downgrade() -> None:
    op.drop_table("crm_field_catalogues")
    op.drop_table("app_fields")
