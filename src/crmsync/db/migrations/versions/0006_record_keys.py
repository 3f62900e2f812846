"""work, links and operations keyed by (connection, object type, local id); link aliases

The core speaks of records, not people: ``person_id`` becomes ``local_id`` beside an
``object_type`` (existing rows are contacts), and the indexes follow the new key. A link is
unique on both sides, and can answer to other CRM ids (``link_aliases``: merges, converted
leads). One active connection per org becomes a rule of the services that connect (CRM-to-CRM
needs two connections in one org), so its unique index goes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = "status = 'pending'"
LEASED = "status = 'leased'"
LINKED = "crm_id IS NOT NULL"
ACTIVE = "status != 'disconnected'"
OLD_LINK_UNIQUE = "uq_links_connection_id_person_id"
"""The links' unnamed unique constraint, as the naming convention below names it on SQLite;
PostgreSQL named it itself."""
PG_OLD_LINK_UNIQUE = "links_connection_id_person_id_key"


def _partial(where: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(where), "postgresql_where": sa.text(where)}


def _object_type() -> sa.Column[str]:
    return sa.Column("object_type", sa.String(length=40), server_default="contact", nullable=False)


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index("uq_connections_active_org", **_partial(ACTIVE))

    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("uq_work_pending", **_partial(PENDING))
        batch_op.drop_index("ix_work_leased_person", **_partial(LEASED))
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.alter_column("person_id", new_column_name="local_id")
        batch_op.add_column(_object_type())
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "uq_work_pending",
            ["connection_id", "object_type", "local_id"],
            unique=True,
            **_partial(PENDING),
        )
        batch_op.create_index(
            "ix_work_leased_record",
            # status as a column too: with four equality terms SQLite's planner, which has
            # no statistics, prefers this index to ix_work_claim for the NOT EXISTS lookup
            ["connection_id", "object_type", "local_id", "status"],
            **_partial(LEASED),
        )

    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_conn_person")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.alter_column("person_id", new_column_name="local_id")
        batch_op.add_column(_object_type())
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_operations_conn_record", ["connection_id", "object_type", "local_id"]
        )

    with op.batch_alter_table(
        "links",
        schema=None,
        naming_convention={"uq": "uq_%(table_name)s_%(column_0_N_name)s"},
    ) as batch_op:
        batch_op.drop_constraint(PG_OLD_LINK_UNIQUE if postgresql else OLD_LINK_UNIQUE, "unique")
        batch_op.alter_column("person_id", new_column_name="local_id")
        batch_op.add_column(_object_type())
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_links_record", ["connection_id", "object_type", "local_id"]
        )
        batch_op.create_index(
            "uq_links_crm_record",
            ["connection_id", "crm_object", "crm_id"],
            unique=True,
            **_partial(LINKED),
        )

    op.create_table(
        "link_aliases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("crm_object", sa.String(length=80), nullable=False),
        sa.Column("crm_id", sa.String(length=200), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["connections.id"]),
        sa.ForeignKeyConstraint(["link_id"], ["links.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connection_id", "crm_object", "crm_id", name="uq_link_aliases_crm"),
    )
    with op.batch_alter_table("link_aliases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_link_aliases_link_id"), ["link_id"], unique=False)


def downgrade() -> None:
    """Back to people: only contacts can go back (other object types have no person id)."""
    op.drop_table("link_aliases")
    for table in ("links", "operations", "work_items"):
        op.execute(sa.text(f"DELETE FROM {table} WHERE object_type != 'contact'"))

    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_index("uq_links_crm_record", **_partial(LINKED))
    with op.batch_alter_table("links", schema=None) as batch_op:
        batch_op.drop_constraint("uq_links_record", "unique")
        batch_op.drop_column("object_type")
        batch_op.alter_column("local_id", new_column_name="person_id")
        batch_op.create_unique_constraint(PG_OLD_LINK_UNIQUE, ["connection_id", "person_id"])

    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_conn_record")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_column("object_type")
        batch_op.alter_column("local_id", new_column_name="person_id")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_conn_person", ["connection_id", "person_id"])

    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_index("ix_work_leased_record", **_partial(LEASED))
        batch_op.drop_index("uq_work_pending", **_partial(PENDING))
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.drop_column("object_type")
        batch_op.alter_column("local_id", new_column_name="person_id")
    with op.batch_alter_table("work_items", schema=None) as batch_op:
        batch_op.create_index(
            "uq_work_pending", ["connection_id", "person_id"], unique=True, **_partial(PENDING)
        )
        batch_op.create_index(
            "ix_work_leased_person", ["connection_id", "person_id", "status"], **_partial(LEASED)
        )

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index(
            "uq_connections_active_org", ["org_id"], unique=True, **_partial(ACTIVE)
        )
