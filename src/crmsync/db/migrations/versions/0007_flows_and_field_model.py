"""flows; field mappings with a value kind, identity and an owning endpoint

What syncs is a flow between two endpoints (the app and a connection today, two connections
for CRM to CRM), holding the object mappings. A field mapping's source of truth now names an
endpoint (``app`` or the owning connection's id) instead of "app or crm", so that a flow
between two CRMs can say which one owns each field; its value kind says what it holds (the
owner is a ``user`` reference like any other field) and ``identity`` marks the fields written
on every change (match key, profile link). A field's own direction is dropped: a mapped field
flows both ways by the ownership rules, and the object mapping says which ways the flow runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"]),
        sa.ForeignKeyConstraint(["target"], ["connections.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_flows_org_id", "flows", ["org_id"])
    op.create_index("ix_flows_target", "flows", ["target"])
    with op.batch_alter_table("object_mappings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flow_id", sa.Integer(), nullable=True))
        batch_op.alter_column("app_object", new_column_name="local_object")
    # one app -> CRM flow per connection that has object mappings
    op.execute(
        "INSERT INTO flows (org_id, source, target, created_at) "
        "SELECT c.id_org, 'app', c.id, CURRENT_TIMESTAMP FROM ("
        "SELECT DISTINCT connections.org_id AS id_org, connections.id AS id FROM connections "
        "JOIN object_mappings ON object_mappings.connection_id = connections.id) c"
    )
    op.execute(
        "UPDATE object_mappings SET flow_id = "
        "(SELECT flows.id FROM flows WHERE flows.target = object_mappings.connection_id)"
    )
    op.execute("UPDATE object_mappings SET local_object = 'contact' WHERE local_object = 'person'")
    with op.batch_alter_table("object_mappings", schema=None) as batch_op:
        batch_op.alter_column("flow_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key("fk_object_mappings_flow_id", "flows", ["flow_id"], ["id"])
        batch_op.create_index("ix_object_mappings_flow_id", ["flow_id"])

    with op.batch_alter_table("field_mappings", schema=None) as batch_op:
        batch_op.alter_column("kind", new_column_name="provided_as")
        batch_op.add_column(
            sa.Column("value_kind", sa.String(length=20), nullable=False, server_default="text")
        )
        batch_op.add_column(
            sa.Column("identity", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
        batch_op.alter_column(
            "source_of_truth", existing_type=sa.String(length=8), type_=sa.String(length=64)
        )
        batch_op.drop_column("direction")
    op.execute(
        "UPDATE field_mappings SET identity = true WHERE app_field IN ('person_id', 'profile_url')"
    )
    op.execute("UPDATE field_mappings SET value_kind = 'key' WHERE app_field = 'person_id'")
    op.execute("UPDATE field_mappings SET value_kind = 'user' WHERE app_field = 'owner'")
    op.execute(
        "UPDATE field_mappings SET source_of_truth = (SELECT object_mappings.connection_id "
        "FROM object_mappings WHERE object_mappings.id = field_mappings.object_mapping_id) "
        "WHERE source_of_truth = 'crm'"
    )


def downgrade() -> None:
    op.execute("UPDATE field_mappings SET source_of_truth = 'crm' WHERE source_of_truth != 'app'")
    with op.batch_alter_table("field_mappings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("direction", sa.String(length=8), nullable=False, server_default="push")
        )
        batch_op.alter_column(
            "source_of_truth", existing_type=sa.String(length=64), type_=sa.String(length=8)
        )
        batch_op.drop_column("identity")
        batch_op.drop_column("value_kind")
        batch_op.alter_column("provided_as", new_column_name="kind")
    op.execute("UPDATE object_mappings SET local_object = 'person' WHERE local_object = 'contact'")
    with op.batch_alter_table("object_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_object_mappings_flow_id")
        batch_op.drop_constraint("fk_object_mappings_flow_id", type_="foreignkey")
        batch_op.drop_column("flow_id")
        batch_op.alter_column("local_object", new_column_name="app_object")
    op.drop_index("ix_flows_target", table_name="flows")
    op.drop_index("ix_flows_org_id", table_name="flows")
    op.drop_table("flows")
