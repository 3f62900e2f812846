"""The integration log: list operations, retry them, and where a person stands."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crmsync.api.schemas import (
    BackfillProgress,
    ConnectionOut,
    OperationOut,
    PersonSyncOut,
    SetupState,
    SyncCounts,
)
from crmsync.db.tables import (
    Connection,
    Lane,
    Link,
    Operation,
    OpStatus,
    WorkItem,
    WorkStatus,
    naive_utc,
    utcnow,
)
from crmsync.engine import outbox
from crmsync.engine.connecting import SEALED_OPTIONS
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, InputError, NotFound
from crmsync.services.connections import require_connection

RETRYABLE = (OpStatus.FAILED, OpStatus.SKIPPED)
HIDDEN_SETTINGS = {"account_label", "setup", SEALED_OPTIONS}
MAX_PAGE = 500


def list_operations(
    session: Session,
    org_id: str,
    status: str | None = None,
    person_id: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[OperationOut]:
    require_connection(session, org_id)
    if status is not None and status not in {s.value for s in OpStatus}:
        raise InputError(f"unknown status {status!r}; one of {', '.join(s for s in OpStatus)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}")
    query = select(Operation).where(Operation.org_id == org_id)
    if status:
        query = query.where(Operation.status == status)
    if person_id:
        query = query.where(Operation.person_id == person_id)
    if before_id:
        query = query.where(Operation.id < before_id)
    rows = session.scalars(query.order_by(Operation.id.desc()).limit(limit))
    return [OperationOut.model_validate(row, from_attributes=True) for row in rows]


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
    outbox.enqueue(session, conn.id, [op.person_id], Lane.REFRESH, operation_id=op.id)
    return conn.id


def retry_all_failed(session: Session, org_id: str) -> tuple[str, int]:
    conn = require_connection(session, org_id)
    latest = (
        select(Operation.person_id, func.max(Operation.id).label("op_id"))
        .where(Operation.connection_id == conn.id)
        .group_by(Operation.person_id)
        .subquery()
    )
    rows = session.execute(
        select(Operation.person_id, Operation.id)
        .join(latest, latest.c.op_id == Operation.id)
        .where(Operation.status == OpStatus.FAILED)
    )
    count = 0
    for person_id, op_id in rows:
        outbox.enqueue(session, conn.id, [person_id], Lane.REFRESH, operation_id=op_id)
        count += 1
    return conn.id, count


def person_sync(rt: Runtime, session: Session, org_id: str, person_id: str) -> PersonSyncOut:
    conn = require_connection(session, org_id)
    link = session.scalar(
        select(Link).where(Link.connection_id == conn.id, Link.person_id == person_id)
    )
    queued = session.scalar(
        select(func.count())
        .select_from(WorkItem)
        .where(WorkItem.connection_id == conn.id, WorkItem.person_id == person_id)
    )
    last = session.scalar(
        select(Operation)
        .where(Operation.connection_id == conn.id, Operation.person_id == person_id)
        .order_by(Operation.id.desc())
        .limit(1)
    )
    if link is None and not queued and last is None:
        raise NotFound(f"person {person_id!r} is not synced for organisation {org_id!r}")
    spec = rt.spec(conn.provider)
    crm_id = link.crm_id if link else None
    url = (
        spec.record_url.format(account_id=conn.account_id or "", crm_id=crm_id)
        if crm_id and spec.record_url
        else None
    )
    return PersonSyncOut(
        person_id=person_id,
        provider=conn.provider,
        status=(last.status if last else None) or "queued",
        crm_id=crm_id,
        crm_url=url,
        last_synced_at=link.last_synced_at if link else None,
        queued=bool(queued),
        last_operation=OperationOut.model_validate(last, from_attributes=True) if last else None,
    )


def connection_status(rt: Runtime, session: Session, conn: Connection) -> ConnectionOut:
    links = {
        status: count
        for status, count in session.execute(
            select(Link.last_status, func.count())
            .where(Link.connection_id == conn.id)
            .group_by(Link.last_status)
        )
    }
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
    return ConnectionOut(
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
        settings={k: v for k, v in conn.settings.items() if k not in HIDDEN_SETTINGS},
        setup=SetupState(**conn.settings.get("setup", {})),
        counts=SyncCounts(
            synced=int(synced or 0),
            pending=pending,
            failed=int(links.get(OpStatus.FAILED, 0)),
            skipped=int(links.get(OpStatus.SKIPPED, 0)),
        ),
        backfill=BackfillProgress(
            total=total, done=done, remaining=remaining, estimated_seconds=estimate
        ),
        queue=depth,
        recommendations=_recommendations(session, conn, rt.spec(conn.provider).recommendations),
    )


def _recommendations(session: Session, conn: Connection, advice: dict[str, str]) -> list[str]:
    """The provider's advice for error codes that currently hold people back."""
    if not advice:
        return []
    codes = session.scalars(
        select(Operation.code)
        .join(
            Link,
            (Link.connection_id == Operation.connection_id)
            & (Link.person_id == Operation.person_id),
        )
        .where(
            Operation.connection_id == conn.id,
            Operation.code.in_(list(advice)),
            Operation.status.in_(RETRYABLE),
            Link.last_status == Operation.status,
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
