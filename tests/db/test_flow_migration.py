"""Migration 0007 moves existing mappings onto flows without losing what they said."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from crmsync.db import migrate


def test_existing_mappings_join_a_flow_and_crm_ownership_names_the_connection(
    db_url: str,
) -> None:
    migrate.upgrade(db_url, "0005")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO orgs (id, name, created_at) VALUES ('o1', 'O', :t)"),
                {"t": "2026-12-01 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO connections (id, org_id, provider, status, connected_at, "
                    "skip_backfill, preserve_manual_edits, settings, token_version, owner_cache, "
                    "backfill_total) VALUES ('c1', 'o1', 'hubspot', 'connected', :t, false, "
                    "false, '{}', 0, '{}', 0)"
                ),
                {"t": "2026-12-01 00:00:00"},
            )
            conn.execute(
                text(
                    "INSERT INTO object_mappings (id, connection_id, app_object, crm_object, "
                    "direction) VALUES (1, 'c1', 'person', 'contact', 'push')"
                )
            )
            for app_field, crm_field, owner in (
                ("person_id", "acme_person_id", "app"),
                ("title", "jobtitle", "crm"),
                ("owner", "hubspot_owner_id", "app"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO field_mappings (object_mapping_id, app_field, crm_field, "
                        "kind, direction, source_of_truth, note) "
                        "VALUES (1, :a, :c, 'standard', 'push', :o, '')"
                    ),
                    {"a": app_field, "c": crm_field, "o": owner},
                )
        migrate.upgrade(db_url, "0007")
        with engine.connect() as conn:
            flow = conn.execute(text("SELECT id, org_id, source, target FROM flows")).one()
            assert tuple(flow)[1:] == ("o1", "app", "c1")
            obj = conn.execute(text("SELECT flow_id, local_object FROM object_mappings")).one()
            assert tuple(obj) == (flow[0], "contact")
            fields = {
                row[0]: tuple(row[1:])
                for row in conn.execute(
                    text(
                        "SELECT app_field, provided_as, value_kind, source_of_truth, identity "
                        "FROM field_mappings"
                    )
                )
            }
        assert fields == {
            "person_id": ("standard", "key", "app", True),
            "title": ("standard", "text", "c1", False),
            "owner": ("standard", "user", "app", False),
        }
    finally:
        engine.dispose()
