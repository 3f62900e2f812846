"""Set-based writes for the engine's hot path, in SQLAlchemy Core.

The ORM's bulk helpers build a unit-of-work command per row; for the thousands of rows a
second the engine writes, Core ``executemany`` with bound parameters does the same SQL for
a fraction of the Python work (measured in docs/benchmarks.md, "Engine overhead").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session


def table_of(model: type[DeclarativeBase]) -> Table:
    """A model's table, typed as one (Core statements are built on tables)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def update_by_id(
    session: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]
) -> None:
    """``UPDATE … WHERE id = :id`` for each row; every row carries the same keys."""
    if not rows:
        return
    table = table_of(model)
    keys = [key for key in rows[0] if key != "id"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({key: bindparam(key) for key in keys})
    )
    session.execute(
        stmt, [{"row_id": row["id"], **{key: row[key] for key in keys}} for row in rows]
    )


def insert_returning_ids(
    session: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their new ids in the order given."""
    if not rows:
        return []
    table = table_of(model)
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, list(rows)).all())


def insert_rows(
    session: Session, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]]
) -> None:
    """Insert rows whose ids nobody needs: one ``executemany``, no ``RETURNING`` (which
    SQLite can only order by sending one statement per row)."""
    if rows:
        session.execute(insert(table_of(model)), list(rows))


def upsert_rows(
    session: Session,
    model: type[DeclarativeBase],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    changes: Sequence[str],
) -> None:
    """Insert rows, or where one with the same ``keys`` exists (a unique constraint), set its
    ``changes`` columns to the new row's: one statement for new and known rows alike."""
    if rows:
        dialect = session.get_bind().dialect.name
        stmt = _upsert(table_of(model), dialect, tuple(keys), tuple(changes))
        session.execute(stmt, list(rows))


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` that can take ``ON CONFLICT``: PostgreSQL's or SQLite's."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


@cache
def _upsert(
    table: Table, dialect: str, keys: tuple[str, ...], changes: tuple[str, ...]
) -> postgresql.Insert | sqlite.Insert:
    """Built once per shape: a statement rebuilt per batch cost more than its parameters."""
    stmt = dialect_insert(dialect, table)
    return stmt.on_conflict_do_update(
        index_elements=list(keys), set_={column: stmt.excluded[column] for column in changes}
    )
