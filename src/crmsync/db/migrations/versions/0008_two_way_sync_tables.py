"""two-way sync tables

Where each read of a CRM stands (the CRM's own cursor), each org's view of its records (the
values its CRM owns, the owner, active or deactivated), the change feed the host reads, the
host's webhook endpoints and their deliveries, CRM webhook events already taken in, and a
connection's sync interval.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:06:12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crmsync.db.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=True),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("record_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("owner", sa.JSON(), nullable=False),
        sa.Column("at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_org_seq", ["org_id", "seq"], unique=False)

    op.create_table(
        "org_records",
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("local_id", sa.String(length=128), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("owner_user_id", sa.String(length=64), nullable=True),
        sa.Column("owner_crm_email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.JSON(), nullable=False),
        sa.Column("updated_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("org_id", "object_type", "local_id"),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_endpoints_org_id"), ["org_id"], unique=False)

    op.create_table(
        "inbound_events",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("crm_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("received_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.Column("processed_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
        ),
        sa.PrimaryKeyConstraint("connection_id", "event_id"),
    )
    op.create_index(  # hints waiting for a run
        "ix_inbound_events_pending",
        "inbound_events",
        ["connection_id"],
        sqlite_where=sa.text("processed_at IS NULL"),
        postgresql_where=sa.text("processed_at IS NULL"),
    )
    op.create_table(
        "sync_states",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("crm_object", sa.String(length=80), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("next_run_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("last_run_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("last_success_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("last_full_sync_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("full_sync_requested", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_report", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
        ),
        sa.PrimaryKeyConstraint("connection_id", "crm_object"),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("change_seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.Column("lease_until", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", crmsync.db.types.Timestamp(timezone=True), nullable=True),
        sa.Column("created_at", crmsync.db.types.Timestamp(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_seq"],
            ["changes.seq"],
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("endpoint_id", "change_seq"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sync_interval_minutes", sa.Integer(), server_default="15", nullable=False)
        )
    # connectors that read changes sync both ways from now on (the product's default)
    op.execute(
        "UPDATE object_mappings SET direction = 'both' WHERE connection_id IN "
        "(SELECT id FROM connections WHERE provider IN ('hubspot', 'salesforce'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("sync_interval_minutes")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_org_id"))
        batch_op.drop_index(
            "ix_webhook_deliveries_due",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.drop_table("webhook_deliveries")
    op.drop_table("sync_states")
    op.drop_index("ix_inbound_events_pending", table_name="inbound_events")
    op.drop_table("inbound_events")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_endpoints_org_id"))

    op.drop_table("webhook_endpoints")
    op.drop_table("org_records")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_org_seq")

    op.drop_table("changes")
