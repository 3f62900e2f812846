"""The integration log: list operations, retry them, and where a person stands.

One definition of what is *failed* (or *skipped*) serves the card's counts, the log's status
filter and "Retry all failed": a person whose latest run on the connection ended so
(``current_runs``). An earlier failure that another run followed is history, not a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crmsync.connectors.base import SETUP_KEPT
from crmsync.db.tables import Connection, Link, Operation, WorkItem, naive_utc, utcnow
from crmsync.domain.enums import Lane, OpStatus, WorkStatus
from crmsync.domain.views import (
    BackfillProgress,
    ConnectionState,
    OperationEntry,
    PersonSync,
    PushSettings,
    SetupState,
    SyncCounts,
)
from crmsync.engine import outbox
from crmsync.engine.connecting import SEALED_OPTIONS
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, InputError, NotFound
from crmsync.services import readback
from crmsync.services.connections import require_connection, retry_current_failures
from crmsync.services.links import record_link
from crmsync.services.records import contact_record
from crmsync.services.runs import current_runs, is_latest_run

RETRYABLE = (OpStatus.FAILED, OpStatus.SKIPPED)
HIDDEN_SETTINGS = {"account_label", "setup", SETUP_KEPT, SEALED_OPTIONS}
MAX_PAGE = 500


def _count(session: Session, query: Select[*tuple[Any, ...]]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def list_operations(
    session: Session,
    org_id: str,
    status: str | None = None,
    person_id: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
    connection_id: str | None = None,
    latest_only: bool = False,
    after_id: int | None = None,
    entity: str | None = None,
) -> list[OperationEntry]:
    """Newest first; each with the connection and provider it was written to.

    ``connection_id``: that connection's operations only. ``latest_only``: each person's
    latest run only (with a ``status``, the people currently in that state). ``after_id``
    pages towards newer operations (still returned newest first)."""
    require_connection(session, org_id)
    query = _operations(org_id, status, person_id, connection_id, latest_only, entity)
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}")
    if before_id:
        query = query.where(Operation.id < before_id)
    if after_id:
        newer = query.where(Operation.id > after_id).order_by(Operation.id.asc()).limit(limit)
        return _out(session, newer)[::-1]
    return _out(session, query.order_by(Operation.id.desc()).limit(limit))


def count_operations(
    session: Session,
    org_id: str,
    status: str | None = None,
    person_id: str | None = None,
    connection_id: str | None = None,
    latest_only: bool = False,
    newer_than: int | None = None,
    entity: str | None = None,
) -> int:
    """How many operations ``list_operations`` pages through with these filters (and newer
    than ``newer_than``, for a page's position)."""
    query = _operations(org_id, status, person_id, connection_id, latest_only, entity)
    if newer_than:
        query = query.where(Operation.id > newer_than)
    return _count(session, query)


def _operations(
    org_id: str,
    status: str | None,
    person_id: str | None,
    connection_id: str | None,
    latest_only: bool,
    entity: str | None = None,
) -> Select[Operation, str]:
    if status is not None and status not in {s.value for s in OpStatus}:
        raise InputError(f"unknown status {status!r}; one of {', '.join(s for s in OpStatus)}")
    query = (
        select(Operation, Connection.provider)
        .join(Connection, Connection.id == Operation.connection_id)
        .where(Operation.org_id == org_id)
    )
    if connection_id:
        query = query.where(Operation.connection_id == connection_id)
    if status:
        query = query.where(Operation.status == status)
    if person_id:
        query = query.where(*contact_record(Operation, person_id))
    if latest_only:
        query = query.where(is_latest_run())
    if entity:
        query = query.where(Operation.object_type == entity)
    return query


def _out(session: Session, query: Select[Operation, str]) -> list[OperationEntry]:
    return [operation_entry(op, provider) for op, provider in session.execute(query)]


def operation_entry(op: Operation, provider: str) -> OperationEntry:
    """The log row, labelled with the provider of the connection it was written to."""
    return OperationEntry(
        id=op.id,
        connection_id=op.connection_id,
        provider=provider,
        person_id=op.local_id,
        lane=op.lane,
        status=op.status,
        reason=op.reason,
        code=op.code,
        crm_id=op.crm_id,
        attempts=op.attempts,
        retry_of=op.retry_of,
        request_summary=op.request_summary,
        response_summary=op.response_summary,
        created_at=op.created_at,
        updated_at=op.updated_at,
        entity=op.object_type,
    )


def latest_runs(session: Session, ops: Sequence[OperationEntry]) -> set[int]:
    """Of these operations, those that are their person's latest run on their connection:
    only those can be retried (an older failure was already followed by another run)."""
    ids = [op.id for op in ops]
    if not ids:
        return set()
    query = select(Operation.id).where(Operation.id.in_(ids), is_latest_run())
    return set(session.scalars(query))


def retry_operation(session: Session, org_id: str, operation_id: int) -> str:
    """Queue a failed or skipped write again; the retry gets its own log row."""
    conn = require_connection(session, org_id)
    op = session.get(Operation, operation_id)
    if op is None or op.org_id != org_id:
        raise NotFound(f"operation {operation_id} does not exist in organisation {org_id!r}")
    if op.status not in RETRYABLE:
        raise Conflict(f"operation {operation_id} is {op.status}; only failed or skipped retry")
    if op.connection_id != conn.id:
        raise Conflict("that operation belongs to a previous connection")
    outbox.enqueue(
        session, conn.id, op.object_type, [op.local_id], Lane.REFRESH, operation_id=op.id
    )
    return conn.id


def retry_all_failed(session: Session, org_id: str) -> tuple[str, int]:
    """Queue again every person whose latest run failed (what the card counts as failed)."""
    conn = require_connection(session, org_id)
    return conn.id, retry_current_failures(session, conn.id)


def person_sync(rt: Runtime, session: Session, org_id: str, person_id: str) -> PersonSync:
    conn = require_connection(session, org_id)
    link = session.scalar(
        select(Link).where(Link.connection_id == conn.id, *contact_record(Link, person_id))
    )
    queued = session.scalar(
        select(func.count())
        .select_from(WorkItem)
        .where(WorkItem.connection_id == conn.id, *contact_record(WorkItem, person_id))
    )
    last = session.scalar(
        select(Operation)
        .where(Operation.connection_id == conn.id, *contact_record(Operation, person_id))
        .order_by(Operation.id.desc())
        .limit(1)
    )
    if link is None and not queued and last is None:
        raise NotFound(f"person {person_id!r} is not synced for organisation {org_id!r}")
    crm_id = link.crm_id if link else None
    return PersonSync(
        person_id=person_id,
        provider=conn.provider,
        status=(last.status if last else None) or "queued",
        crm_id=crm_id,
        crm_url=record_link(rt, conn, crm_id),
        last_synced_at=link.last_synced_at if link else None,
        queued=bool(queued),
        last_operation=operation_entry(last, conn.provider) if last else None,
    )


def connection_status(rt: Runtime, session: Session, conn: Connection) -> ConnectionState:
    synced = session.scalar(
        select(func.count())
        .select_from(Link)
        .where(Link.connection_id == conn.id, Link.crm_id.is_not(None))
    )
    depth = outbox.queue_depth(session, conn.id)
    pending = sum(depth.values())
    remaining = depth[Lane.BACKFILL]
    total = max(conn.backfill_total, remaining)
    done = total - remaining
    elapsed = (naive_utc(utcnow()) - naive_utc(conn.connected_at)).total_seconds()
    estimate = remaining / (done / elapsed) if done and remaining and elapsed > 0 else None
    setup = conn.settings.get("setup", {})
    return ConnectionState(
        id=conn.id,
        org_id=conn.org_id,
        provider=conn.provider,
        provider_name=rt.spec(conn.provider).display_name,
        status=conn.status,
        status_reason=conn.status_reason,
        connected_at=conn.connected_at,
        account_id=conn.account_id,
        account_label=conn.settings.get("account_label"),
        skip_backfill=conn.skip_backfill,
        preserve_manual_edits=conn.preserve_manual_edits,
        conversations_enabled=conn.conversations_enabled,
        import_mode=conn.import_mode,
        export_mode=conn.export_mode,
        settings={k: v for k, v in conn.settings.items() if k not in HIDDEN_SETTINGS},
        setup=SetupState(
            missing=tuple(setup.get("missing", ())),
            created=tuple(setup.get("created", ())),
            message=setup.get("message", ""),
        ),
        counts=SyncCounts(
            synced=int(synced or 0),
            pending=pending,
            failed=_count(session, current_runs(conn.id, OpStatus.FAILED)),
            skipped=_count(session, current_runs(conn.id, OpStatus.SKIPPED)),
        ),
        backfill=BackfillProgress(
            total=total, done=done, remaining=remaining, estimated_seconds=estimate
        ),
        sync=readback.read_back(session, conn),
        push=PushSettings(conn.push_enabled, conn.push_on_unlock, conn.push_score_threshold),
        queue=depth,
        recommendations=tuple(
            _recommendations(session, conn, rt.spec(conn.provider).recommendations)
        ),
    )


def _recommendations(session: Session, conn: Connection, advice: dict[str, str]) -> list[str]:
    """The provider's advice for error codes that currently hold people back."""
    if not advice:
        return []
    codes = session.scalars(
        select(Operation.code)
        .where(
            Operation.connection_id == conn.id,
            Operation.code.in_(list(advice)),
            Operation.status.in_(RETRYABLE),
            is_latest_run(),
        )
        .distinct()
    )
    return [advice[code] for code in sorted({c for c in codes if c})]


def pending_items(session: Session, connection_id: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(WorkItem)
            .where(WorkItem.connection_id == connection_id, WorkItem.status != WorkStatus.DONE)
        )
        or 0
    )
