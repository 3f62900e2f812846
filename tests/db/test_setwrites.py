"""The hot path's set-based writes store exactly what SQLAlchemy's own path stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session

from crmsync.db import migrate
from crmsync.db.session import Database
from crmsync.db.setwrites import insert_rows, update_by_id, upsert_rows
from crmsync.db.tables import Connection, Link, Operation, Org, WorkItem
from crmsync.domain.enums import OpStatus
from crmsync.domain.keys import CONTACT

MOMENT = datetime(2026, 11, 23, 5, 6, 7, 89, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    migrate.upgrade(db_url)
    database = Database(db_url)
    with database.session() as session:
        session.add(Org(id="o", name="Org"))
        session.flush()
        session.add(Connection(id="c", org_id="o", provider="hubspot"))
    yield database
    database.dispose()


def log_row(local_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "org_id": "o",
        "connection_id": "c",
        "object_type": CONTACT,
        "local_id": local_id,
        "lane": "backfill",
        "status": OpStatus.INSERTED,
        "reason": "",
        "code": None,
        "crm_id": "101",
        "request_summary": {"first_write": True, "fields": {"email": "j***@example.com"}},
        "response_summary": {"id": "101", "new": True},
        "attempts": 1,
        "retry_of": None,
        "created_at": MOMENT,
        "updated_at": MOMENT.replace(tzinfo=None),
    }
    return {**row, **changes}


def stored(session: Session, table: str, local_id: str) -> dict[str, Any]:
    """A row as the database holds it (raw: no type processing on the way out)."""
    row = session.execute(
        text(f"SELECT * FROM {table} WHERE local_id = :p"), {"p": local_id}
    ).mappings()
    return {k: v for k, v in next(iter(row)).items() if k not in ("id", "local_id")}


@pytest.fixture
def statements(db: Database) -> Iterator[list[bool]]:
    """For each statement run: was it compiled by SQLAlchemy for this execution?"""
    seen: list[bool] = []

    def spy(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append(context.compiled is not None)

    event.listen(db.engine, "before_cursor_execute", spy)
    yield seen
    event.remove(db.engine, "before_cursor_execute", spy)


def test_rows_inserted_in_bulk_are_stored_as_sqlalchemy_stores_them(
    db: Database, statements: list[bool]
) -> None:
    with db.session() as session:
        session.connection()  # (its BEGIN is not the statement looked at)
        statements.clear()
        insert_rows(session, Operation, [log_row("fast-1"), log_row("fast-2", code="E1")])
        direct = statements[:]
        session.execute(insert(Operation), [log_row("orm-1"), log_row("orm-2", code="E1")])
    with db.session() as session:
        assert stored(session, "operations", "fast-1") == stored(session, "operations", "orm-1")
        assert stored(session, "operations", "fast-2") == stored(session, "operations", "orm-2")
    # the fast path ran (else this compared SQLAlchemy with itself): on SQLite one statement
    # SQLAlchemy did not compile, on PostgreSQL a COPY, which is no statement at all
    assert direct == ([False] if db.engine.dialect.name == "sqlite" else [])


def test_upserts_and_updates_by_id_store_what_sqlalchemy_stores(db: Database) -> None:
    link = {
        "connection_id": "c",
        "object_type": CONTACT,
        "crm_object": "contact",
        "crm_id": None,
        "written": {},
        "pending_create_at": MOMENT,
        "created_at": MOMENT,
    }
    keys, changes = (
        ("connection_id", "object_type", "local_id"),
        ("crm_id", "written", "pending_create_at"),
    )
    outcome = {"crm_id": "55", "written": {"email": "a@b.c"}, "pending_create_at": None}
    with db.session() as session:
        upsert_rows(session, Link, [{**link, "local_id": "a"}], keys, changes)
        upsert_rows(session, Link, [{**link, "local_id": "a", **outcome}], keys, changes)
        # (another CRM id: a link is unique on the CRM side too)
        session.execute(insert(Link), [{**link, "local_id": "b", **outcome, "crm_id": "56"}])
    with db.session() as session:
        a, b = stored(session, "links", "a"), stored(session, "links", "b")
        assert (a.pop("crm_id"), b.pop("crm_id")) == ("55", "56")
        assert a == b

    with db.session() as session:
        insert_rows(session, Operation, [log_row("x"), log_row("y")])
    with db.session() as session:
        ids = dict(session.execute(select(Operation.local_id, Operation.id)).tuples().all())
        change = {"status": OpStatus.FAILED, "updated_at": MOMENT, "response_summary": {"n": 1}}
        update_by_id(session, Operation, [{"id": ids["x"], **change}])
        session.query(Operation).filter_by(id=ids["y"]).update(change)
    with db.session() as session:
        assert stored(session, "operations", "x") == stored(session, "operations", "y")


def test_rows_that_leave_a_default_to_the_database_layer_still_get_it(db: Database) -> None:
    """A row without ``status`` or ``created_at`` needs SQLAlchemy's defaults: the direct path
    steps aside rather than write NULLs."""
    with db.session() as session:
        insert_rows(
            session,
            WorkItem,
            [{"connection_id": "c", "local_id": "p", "lane": "live", "priority": 0}],
        )
    with db.session() as session:
        item = session.scalars(select(WorkItem)).one()
    assert (
        item.status == "pending"
        and item.attempts == 0
        and item.object_type == CONTACT
        and item.created_at is not None
    )
