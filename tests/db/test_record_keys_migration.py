"""Migration 0006: the sync tables keyed by record keep every row's values, and the new keys
hold (a link is unique on both sides; an org may hold two connections)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from crmsync.db import migrate

NOW = "2026-12-01 10:00:00.000000"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    migrate.upgrade(db_url, "0005")
    made = create_engine(db_url)
    with made.begin() as conn:
        for sql in (
            "INSERT INTO orgs (id, name, created_at) VALUES ('o', 'Org', :now)",
            "INSERT INTO connections (id, org_id, provider, status, connected_at, skip_backfill,"
            " preserve_manual_edits, settings, token_version, owner_cache, backfill_total)"
            " VALUES ('c1', 'o', 'hubspot', 'connected', :now, false, false, '{}', 0, '{}', 0)",
            "INSERT INTO links (connection_id, person_id, crm_object, crm_id, written,"
            " created_at) VALUES ('c1', 'p-1', 'contacts', '901', '{\"email\": \"a@x\"}', :now)",
            "INSERT INTO links (connection_id, person_id, crm_object, crm_id, written,"
            " pending_create_at, created_at) VALUES ('c1', 'p-2', 'contacts', NULL, '{}', :now,"
            " :now)",
            "INSERT INTO work_items (connection_id, person_id, lane, priority, status, attempts,"
            " not_before, created_at) VALUES ('c1', 'p-1', 'live', 0, 'pending', 2, :now, :now)",
            "INSERT INTO operations (org_id, connection_id, person_id, lane, status, reason,"
            " request_summary, response_summary, attempts, created_at, updated_at) VALUES"
            " ('o', 'c1', 'p-1', 'live', 'inserted', '', '{}', '{}', 1, :now, :now)",
        ):
            conn.execute(text(sql), {"now": NOW})
    migrate.upgrade(db_url)
    try:
        yield made
    finally:
        made.dispose()


def test_rows_keep_their_values_as_contacts_keyed_by_local_id(engine: Engine) -> None:
    with engine.connect() as conn:
        links = conn.execute(
            text("SELECT local_id, object_type, crm_id, written FROM links ORDER BY local_id")
        ).all()
        work = conn.execute(text("SELECT local_id, object_type, attempts FROM work_items")).all()
        ops = conn.execute(text("SELECT local_id, object_type, status FROM operations")).all()
    assert [(r[0], r[1], r[2]) for r in links] == [
        ("p-1", "contact", "901"),
        ("p-2", "contact", None),
    ]
    assert "a@x" in str(links[0][3])
    assert [tuple(r) for r in work] == [("p-1", "contact", 2)]
    assert [tuple(r) for r in ops] == [("p-1", "contact", "inserted")]


def _link(crm_id: str | None, local_id: str, object_type: str = "contact") -> str:
    crm = "NULL" if crm_id is None else f"'{crm_id}'"
    return (
        "INSERT INTO links (connection_id, object_type, local_id, crm_object, crm_id, written,"
        f" created_at) VALUES ('c1', '{object_type}', '{local_id}', 'contacts', {crm}, '{{}}',"
        f" '{NOW}')"
    )


def test_a_link_is_unique_on_the_local_side(engine: Engine) -> None:
    with engine.begin() as conn:  # another object type may use the same local id
        conn.execute(text(_link("902", "p-1", object_type="conversation")))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(_link("903", "p-1")))


def test_a_link_is_unique_on_the_crm_side_once_it_has_an_id(engine: Engine) -> None:
    with engine.begin() as conn:  # records not created yet have no CRM id to share
        conn.execute(text(_link(None, "p-3")))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(_link("901", "p-4")))


def test_the_table_accepts_two_active_connections_of_one_org(engine: Engine) -> None:
    """One CRM per organisation is the app↔CRM product's rule (the services'), not the
    table's: CRM-to-CRM needs two connections in one org."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO connections (id, org_id, provider, status, connected_at,"
                " skip_backfill, preserve_manual_edits, settings, token_version, owner_cache,"
                " backfill_total) VALUES ('c2', 'o', 'salesforce', 'connected', :now, false,"
                " false, '{}', 0, '{}', 0)"
            ),
            {"now": NOW},
        )
        count = conn.execute(
            text("SELECT count(*) FROM connections WHERE org_id = 'o' AND status = 'connected'")
        ).scalar()
    assert count == 2


def test_an_alias_names_one_crm_record_once_per_connection(engine: Engine) -> None:
    insert = text(
        "INSERT INTO link_aliases (connection_id, crm_object, crm_id, link_id, reason,"
        " created_at) SELECT 'c1', 'Lead', '00Q1', id, 'converted', :now FROM links"
        " WHERE local_id = 'p-1'"
    )
    with engine.begin() as conn:
        conn.execute(insert, {"now": NOW})
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert, {"now": NOW})
