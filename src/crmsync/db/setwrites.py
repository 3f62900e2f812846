"""Set-based writes for the engine's hot path, in SQLAlchemy Core.

The ORM's bulk helpers build a unit-of-work command per row; for the thousands of rows a
second the engine writes, Core ``executemany`` with bound parameters does the same SQL for
a fraction of the Python work (measured in docs/benchmarks.md, "Engine overhead").

On SQLite (the embedded default, where Python is the cost) a statement is compiled once per
shape and its rows handed to the driver's ``executemany`` as tuples, each value through its
column type's own bind processor: the same SQL and the same stored values, without
SQLAlchemy's per-row, per-key parameter handling (a third of the time writing a log row).
On PostgreSQL, rows to insert go through ``COPY … FROM STDIN``, and rows to upsert are copied
into a temporary table of the connection's own and inserted from it with ``ON CONFLICT`` in
one statement: psycopg writes copied rows in C, at a third of the client's CPU a row
(measured), each value through the same bind processors. Updates by id keep SQLAlchemy's
path (handing psycopg's ``executemany`` the rows measured the same as SQLAlchemy's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Dialect, Table, bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql.dml import ValuesBase
from sqlalchemy.types import TypeEngine


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
    keys = tuple(key for key in rows[0] if key != "id")
    stmt = _update_by_id(table_of(model), keys)
    if _direct(session, stmt, (*keys, "row_id"), rows, {"row_id": "id"}):
        return
    session.execute(
        stmt, [{"row_id": row["id"], **{key: row[key] for key in keys}} for row in rows]
    )


@cache
def _update_by_id(table: Table, keys: tuple[str, ...]) -> ValuesBase:
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({key: bindparam(key) for key in keys})
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
    if not rows:
        return
    table = table_of(model)
    stmt = _insert(table)
    keys = tuple(rows[0])
    if not (_copy(session, table, keys, rows) or _direct(session, stmt, keys, rows)):
        session.execute(stmt, list(rows))


@cache
def _insert(table: Table) -> ValuesBase:
    return insert(table)


def upsert_rows(
    session: Session,
    model: type[DeclarativeBase],
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    changes: Sequence[str],
) -> None:
    """Insert rows, or where one with the same ``keys`` exists (a unique constraint), set its
    ``changes`` columns to the new row's: one statement for new and known rows alike."""
    if not rows:
        return
    table, row_keys = table_of(model), tuple(rows[0])
    if _copy_upsert(session, table, row_keys, tuple(keys), tuple(changes), rows):
        return
    stmt = _upsert(table, session.get_bind().dialect.name, tuple(keys), tuple(changes))
    if not _direct(session, stmt, row_keys, rows):
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


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A statement compiled for one dialect and one set of row keys."""

    sql: str
    keys: tuple[str, ...]
    """Where each positional parameter's value comes from in a row."""
    processors: tuple[Callable[[Any], Any] | None, ...]


_DIRECT_DIALECTS = frozenset({"sqlite"})


def _direct(
    session: Session,
    stmt: ValuesBase,
    keys: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
    sources: dict[str, str] | None = None,
) -> bool:
    """Run ``stmt`` for ``rows`` straight through the driver's ``executemany``, if the dialect
    is one where that pays and the statement binds nothing but the rows' keys (a column
    default SQLAlchemy would fill in, say); ``sources`` renames a bind's key in the rows.
    Returns whether it ran."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name not in _DIRECT_DIALECTS:
        return False
    compiled = _compile(stmt, dialect, keys, tuple((sources or {}).items()))
    if compiled is None:
        return False
    connection.exec_driver_sql(compiled.sql, list(_bound(compiled.keys, compiled.processors, rows)))
    return True


def _bound(
    keys: tuple[str, ...],
    processors: tuple[Callable[[Any], Any] | None, ...],
    rows: Sequence[dict[str, Any]],
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in ``keys`` order, as its columns' bind processors make them."""
    pairs = tuple(zip(keys, processors, strict=True))
    for row in rows:
        yield tuple(row[k] if p is None else p(row[k]) for k, p in pairs)


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of ``type_`` on its way to ``dialect``'s driver."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


@lru_cache(maxsize=256)  # keyed by dialect too: each engine (a test's, say) has its own
def _compile(
    stmt: ValuesBase,
    dialect: Dialect,
    keys: tuple[str, ...],
    sources: tuple[tuple[str, str], ...],
) -> _Compiled | None:
    compiled = stmt.compile(dialect=dialect, column_keys=[k for k in keys if k != "row_id"])
    names = compiled.positiontup
    if not dialect.positional or names is None or set(names) != set(keys):
        return None  # a bind the rows don't carry: SQLAlchemy's own path fills it in
    renamed = dict(sources)
    return _Compiled(
        sql=compiled.string,
        keys=tuple(renamed.get(name, name) for name in names),
        processors=tuple(_processor(compiled.binds[name].type, dialect) for name in names),
    )


def _copy(
    session: Session, table: Table, keys: tuple[str, ...], rows: Sequence[dict[str, Any]]
) -> bool:
    """Insert ``rows`` with PostgreSQL's ``COPY``, if this is PostgreSQL and no column the rows
    leave out has a default SQLAlchemy would compute (the database's own still apply).
    Returns whether it ran."""
    connection = session.connection()
    shape = _copy_shape(table, connection.dialect, keys)
    if shape is None:
        return False
    with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        _copy_into(cursor, shape.copy, shape, rows)
    return True


def _copy_upsert(
    session: Session,
    table: Table,
    row_keys: tuple[str, ...],
    keys: tuple[str, ...],
    changes: tuple[str, ...],
    rows: Sequence[dict[str, Any]],
) -> bool:
    """``upsert_rows`` on PostgreSQL: the rows are copied into a temporary table of this
    connection, then inserted from it with ``ON CONFLICT … DO UPDATE`` in one statement."""
    connection = session.connection()
    shape = _copy_shape(table, connection.dialect, row_keys)
    if shape is None:
        return False
    quote = connection.dialect.identifier_preparer.quote
    sql = _upsert_from_stage(shape, tuple(map(quote, keys)), tuple(map(quote, changes)))
    with connection.connection.driver_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(shape.create_stage)  # (a rolled-back transaction takes it with it)
        _copy_into(cursor, shape.copy_stage, shape, rows)
        cursor.execute(sql)
        cursor.execute(shape.empty_stage)  # (a rollback empties it too)
    return True


def _copy_into(cursor: Any, sql: str, shape: _CopyShape, rows: Sequence[dict[str, Any]]) -> None:
    with cursor.copy(sql) as copy:
        for values in _bound(shape.keys, shape.processors, rows):
            copy.write_row(values)


@dataclass(frozen=True, slots=True)
class _CopyShape:
    """``COPY`` statements for rows of one shape into a table, or into its staging table."""

    keys: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    table: str
    columns: str
    copy: str
    stage: str
    create_stage: str
    copy_stage: str
    empty_stage: str


@lru_cache(maxsize=256)
def _copy_shape(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> _CopyShape | None:
    if dialect.name != "postgresql":
        return None
    columns = [table.c[key] for key in keys]
    left_out = [c for c in table.columns if c.key not in keys]
    if any(c.default is not None or c.onupdate is not None for c in left_out):
        return None
    quote = dialect.identifier_preparer
    names = ", ".join(quote.quote(c.name) for c in columns)
    target = quote.format_table(table)
    digest = hashlib.blake2s("\0".join(keys).encode(), digest_size=4).hexdigest()
    stage = quote.quote(f"crmsync_stage_{table.name}_{digest}")  # one per shape
    return _CopyShape(
        keys=keys,
        processors=tuple(_processor(c.type, dialect) for c in columns),
        table=target,
        columns=names,
        copy=f"COPY {target} ({names}) FROM STDIN",
        stage=stage,
        # the columns' types, no constraints or defaults; this connection's own
        create_stage=f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
        f"AS SELECT {names} FROM {target} WITH NO DATA",
        copy_stage=f"COPY {stage} ({names}) FROM STDIN",
        empty_stage=f"DELETE FROM {stage}",
    )


@lru_cache(maxsize=256)
def _upsert_from_stage(shape: _CopyShape, keys: tuple[str, ...], changes: tuple[str, ...]) -> str:
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in changes)
    return (
        f"INSERT INTO {shape.table} ({shape.columns}) SELECT {shape.columns} FROM {shape.stage} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )
