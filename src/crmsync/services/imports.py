"""The log's imports: what a connection took in from its CRM. Every change a read of the CRM
made to the app side is in the change feed with the connection that read it
(``engine.intake``, ``engine.org_records``); this reads those entries, newest first."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crmsync.db.tables import Change, Operation
from crmsync.domain.views import ImportEntry
from crmsync.errors import InputError
from crmsync.services.connections import require_connection

MAX_PAGE = 500


def _imports(
    org_id: str, connection_id: str, entity: str | None, record_id: str | None
) -> Select[Change]:
    query = select(Change).where(Change.org_id == org_id, Change.connection_id == connection_id)
    if entity:
        query = query.where(Change.entity == entity)
    if record_id:
        query = query.where(Change.record_id == record_id)
    return query


def list_imports(
    session: Session,
    org_id: str,
    connection_id: str,
    entity: str | None = None,
    record_id: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[ImportEntry]:
    """Newest first; ``before``: the changes older than that one (the next page)."""
    require_connection(session, org_id)
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}")
    query = _imports(org_id, connection_id, entity, record_id)
    if before:
        query = query.where(Change.seq < before)
    rows = session.scalars(query.order_by(Change.seq.desc()).limit(limit))
    return [
        ImportEntry(c.seq, connection_id, c.entity, c.record_id, c.kind, dict(c.fields), c.at)
        for c in rows
    ]


def count_imports(
    session: Session,
    org_id: str,
    connection_id: str,
    entity: str | None = None,
    record_id: str | None = None,
) -> int:
    query = _imports(org_id, connection_id, entity, record_id).subquery()
    return int(session.scalar(select(func.count()).select_from(query)) or 0)


def entities(session: Session, org_id: str, connection_id: str) -> list[str]:
    """The kinds of record the connection exported or imported (e.g. contact), by name."""
    exported = select(Operation.object_type).where(
        Operation.org_id == org_id, Operation.connection_id == connection_id
    )
    imported = select(Change.entity).where(
        Change.org_id == org_id, Change.connection_id == connection_id
    )
    return sorted(
        set(session.scalars(exported.distinct())) | set(session.scalars(imported.distinct()))
    )
