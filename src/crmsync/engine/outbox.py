"""The durable outbox: pending work lives in the database, in the caller's transaction.

Callers enqueue inside the same transaction that records the unlock or the person change, so
nothing is lost if the process dies at any point. The task queue only says "look at
connection X"; the database says what to do.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    Select,
    and_,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from crmsync.db.setwrites import dialect_insert, table_of
from crmsync.db.tables import Connection, Operation, Unlock, WorkItem, utcnow
from crmsync.domain.enums import LANE_PRIORITY, ConnectionStatus, Lane, OpStatus, WorkStatus
from crmsync.domain.keys import CONTACT

ACTIVE = (
    ConnectionStatus.CONNECTED,
    ConnectionStatus.NEEDS_RECONNECT,
    ConnectionStatus.SETUP_REQUIRED,
)
"""Connections that accept new work: one paused for a reconnect or a setup keeps its queue."""


def _upsert_pending(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert work items; a record with pending work on the connection keeps that one item,
    moved up to the new lane if it is higher (never down).

    The conflict branch is an UPDATE on purpose, not DO NOTHING: it locks the pending item
    until the caller commits. A runner claiming that item meanwhile waits for the commit, so
    it reads the change that caused this enqueue. With DO NOTHING, PostgreSQL let the runner
    claim the item and read the person before the change committed: the old values were
    written and no work was left for the new ones (a lost update the fault soak found).
    """
    if not rows:
        return
    stmt = dialect_insert(session.get_bind().dialect.name, _WORK)
    higher = stmt.excluded.priority < WorkItem.priority
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["connection_id", "object_type", "local_id"],
            index_where=text("status = 'pending'"),
            set_={
                "lane": case((higher, stmt.excluded.lane), else_=WorkItem.lane),
                "priority": case((higher, stmt.excluded.priority), else_=WorkItem.priority),
            },
        ),
        rows,
    )


def enqueue(
    session: Session,
    connection_id: str,
    object_type: str,
    local_ids: Iterable[str],
    lane: Lane,
    operation_id: int | None = None,
) -> None:
    """Queue records of one object type on one connection; pending work already queued
    moves up to this lane."""
    ids = list(dict.fromkeys(local_ids))
    priority = LANE_PRIORITY[lane]
    now = utcnow()
    for chunk in _chunks(ids, 500):
        _upsert_pending(
            session,
            [
                {
                    "connection_id": connection_id,
                    "object_type": object_type,
                    "local_id": pid,
                    "lane": lane,
                    "priority": priority,
                    "status": WorkStatus.PENDING,
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                    "operation_id": operation_id,
                }
                for pid in chunk
            ],
        )


def enqueue_backfill(session: Session, connection: Connection) -> int:
    """Every person the org unlocked before connecting goes to the backfill lane.

    Read in pages of ``BACKFILL_PAGE`` ids, so a million-person org costs no more memory
    than a small one (the whole id list cost ~125 bytes a person of peak RSS)."""
    total = 0
    after = ""
    while True:
        page = list(
            session.scalars(
                select(Unlock.person_id)
                .where(Unlock.org_id == connection.org_id, Unlock.person_id > after)
                .distinct()
                .order_by(Unlock.person_id)
                .limit(BACKFILL_PAGE)
            )
        )
        if not page:
            break
        enqueue(session, connection.id, CONTACT, page, Lane.BACKFILL)
        total += len(page)
        after = page[-1]
    connection.backfill_total = total
    return total


BACKFILL_PAGE = 5_000


def active_connections(session: Session, org_ids: Sequence[str]) -> list[Connection]:
    return list(
        session.scalars(
            select(Connection).where(Connection.org_id.in_(org_ids), Connection.status.in_(ACTIVE))
        )
    )


def pushes(session: Session, connection_id: str) -> bool:
    """Are the connection's pushes on? Asked by every claim: switched off (``push_enabled``)
    mid-run, the run claims nothing more, and what it sent drains."""
    return bool(session.scalar(_PUSHES, {"connection_id": connection_id}))


@dataclass(frozen=True, slots=True)
class Claimed:
    """A leased work item as the runner needs it: plain values, no ORM identity to track
    (of the object type its claim asked for)."""

    id: int
    local_id: str
    lane: str
    attempts: int
    operation_id: int | None
    created_at: datetime


_CLAIMED = ("id", "local_id", "lane", "attempts", "operation_id", "created_at")
"""The columns of :class:`Claimed`, in its order."""
_WORK = table_of(WorkItem)
_PUSHES = select(table_of(Connection).c.push_enabled).where(
    table_of(Connection).c.id == bindparam("connection_id")
)


@dataclass(frozen=True)
class ClaimRequest:
    """What the next claim takes: up to ``size`` due items of ``lanes`` and ``object_type``,
    leased for ``lease``. The runner decides it; the recorder runs it inside its transaction."""

    connection_id: str
    size: int
    lease: timedelta
    lanes: tuple[Lane, ...] = tuple(Lane)
    object_type: str = CONTACT

    def run(self, session: Session) -> list[Claimed]:
        return claim(
            session,
            self.connection_id,
            self.size,
            self.lease,
            lanes=self.lanes,
            object_type=self.object_type,
        )


def claim(
    session: Session,
    connection_id: str,
    size: int,
    lease: timedelta,
    now: datetime | None = None,
    lanes: Collection[Lane] = tuple(Lane),
    object_type: str = CONTACT,
) -> list[Claimed]:
    """Lease the next batch: live first, but lower lanes always keep a share of each batch.

    A backfill never delays a live unlock by more than one batch, and a stream of live unlocks
    never starves refreshes or the backfill.
    """
    now = now or utcnow()
    if not pushes(session, connection_id):
        return []
    share = max(1, size // 10)
    candidates: dict[str, list[Claimed]] = {lane: [] for lane in Lane}
    params = {"connection_id": connection_id, "object_type": object_type, "now": now, "size": size}
    for row in session.execute(_due_in(tuple(lane for lane in Lane if lane in lanes)), params):
        item = Claimed(*row)
        candidates[item.lane].append(item)
    for items in candidates.values():
        items.sort(key=lambda item: item.id)  # (a union's order is the database's choice)
    reserve = {
        Lane.REFRESH: min(share, len(candidates[Lane.REFRESH])),
        Lane.BACKFILL: min(share, len(candidates[Lane.BACKFILL])),
    }
    take_live = min(len(candidates[Lane.LIVE]), size - sum(reserve.values()))
    take_refresh = min(len(candidates[Lane.REFRESH]), size - take_live - reserve[Lane.BACKFILL])
    take_backfill = min(len(candidates[Lane.BACKFILL]), size - take_live - take_refresh)
    batch = (
        candidates[Lane.LIVE][:take_live]
        + candidates[Lane.REFRESH][:take_refresh]
        + candidates[Lane.BACKFILL][:take_backfill]
    )
    _lease(session, batch, now + lease)
    return batch


_CONNECTION = bindparam("connection_id", type_=_WORK.c.connection_id.type)
_OBJECT_TYPE = bindparam("object_type", type_=_WORK.c.object_type.type)
_NOW = bindparam("now", type_=_WORK.c.not_before.type)


@cache
def _due_in(lanes: tuple[Lane, ...]) -> CompoundSelect[Any]:
    """One statement for the due items of several lanes, up to ``:size`` of each: built once
    (an expression rebuilt per claim cost more than running it)."""
    per_lane = [
        select(_due(_CONNECTION, _OBJECT_TYPE, lane, _NOW).limit(bindparam("size")).subquery())
        for lane in lanes
    ]
    return union_all(*per_lane)


def claim_lane(
    session: Session,
    connection_id: str,
    lane: Lane,
    size: int,
    lease: timedelta,
    object_type: str = CONTACT,
) -> list[Claimed]:
    """Lease up to ``size`` due items of one lane (a bulk job's worth of backfill)."""
    now = utcnow()
    if not pushes(session, connection_id):
        return []
    items = _fetch(session, _due(connection_id, object_type, lane, now).limit(size))
    _lease(session, items, now + lease)
    return items


def count_due(
    session: Session,
    connection_id: str,
    lane: Lane,
    up_to: int | None = None,
    object_type: str = CONTACT,
) -> int:
    """Due items of one lane, counted up to ``up_to`` at most: "are there at least this many?"
    costs that many index entries, not the whole queue (a 1,000,000-person backfill was
    counted in full before every bulk job)."""
    due = _due(connection_id, object_type, lane, utcnow()).order_by(None)
    if up_to is not None:
        due = due.limit(up_to)
    return int(session.scalar(select(func.count()).select_from(due.subquery())) or 0)


def _fetch(session: Session, query: Select[Any]) -> list[Claimed]:
    return [Claimed(*row) for row in session.execute(query)]


def _lease(session: Session, items: list[Claimed], until: datetime) -> None:
    for chunk in _chunks([item.id for item in items], 500):
        session.execute(_LEASE, {"ids": chunk, "until": until})


_IN_FLIGHT = _WORK.alias("in_flight")
_LEASE = (
    update(_WORK)
    .where(_WORK.c.id.in_(bindparam("ids", expanding=True)))
    .values(status=WorkStatus.LEASED, lease_until=bindparam("until"))
)
_FINISH = delete(_WORK).where(_WORK.c.id.in_(bindparam("ids", expanding=True)))


def _due(
    connection_id: str | BindParameter[str],
    object_type: str | BindParameter[str],
    lane: Lane,
    now: datetime | BindParameter[datetime],
) -> Select[Any]:
    """Due pending items of one lane and object type, oldest first, except records with an
    item in flight (leased): two writes of one record are never sent at once. (A ``NOT IN``
    list of the records in flight made SQLite cache a ~1 MB statement per distinct list
    length: RSS grew with the size of a backfill.) In Core, not the ORM: the claim runs once
    a batch."""
    work, in_flight = _WORK.c, _IN_FLIGHT.c
    busy = (
        select(in_flight.id)
        .where(
            in_flight.connection_id == connection_id,
            in_flight.object_type == work.object_type,
            in_flight.local_id == work.local_id,
            # a literal, not a parameter: only then can the planner use the partial index
            in_flight.status == literal_column(f"'{WorkStatus.LEASED.value}'"),
        )
        .exists()
    )
    return (
        select(*(work[name] for name in _CLAIMED))
        .where(
            work.connection_id == connection_id,
            work.object_type == object_type,
            work.status == WorkStatus.PENDING,
            work.priority == LANE_PRIORITY[lane],
            work.not_before <= now,
            ~busy,
        )
        .order_by(work.id)
    )


def release(
    session: Session,
    item_ids: Sequence[int],
    not_before: datetime,
    count_attempt: bool,
) -> None:
    """Put leased work back, due at ``not_before``.

    If a newer pending item for the same record arrived meanwhile, it supersedes this one and
    inherits its operation row, so the log keeps one row per attempted write.
    """
    for chunk in _chunks(list(item_ids), 500):
        items = list(session.scalars(select(WorkItem).where(WorkItem.id.in_(chunk))))
        newer = {
            (w.connection_id, w.object_type, w.local_id): w
            for w in session.scalars(
                select(WorkItem).where(
                    WorkItem.connection_id.in_({i.connection_id for i in items}),
                    WorkItem.local_id.in_([i.local_id for i in items]),
                    WorkItem.status == WorkStatus.PENDING,
                )
            )
        }
        for item in items:
            successor = newer.get((item.connection_id, item.object_type, item.local_id))
            if successor is not None:
                if successor.operation_id is None:
                    successor.operation_id = item.operation_id
                elif item.operation_id is not None:
                    _close_superseded(session, item.operation_id, successor.operation_id)
                session.delete(item)
                continue
            item.status = WorkStatus.PENDING
            item.lease_until = None
            item.not_before = not_before
            if count_attempt:
                item.attempts += 1


def _close_superseded(session: Session, operation_id: int, successor_op: int) -> None:
    """Every log row ends settled: this attempt's record continues in ``successor_op``."""
    session.execute(
        update(Operation)
        .where(Operation.id == operation_id)
        .values(
            status=OpStatus.SUPERSEDED,
            reason=f"a newer change of this person continues in operation {successor_op}",
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )


def finish(session: Session, item_ids: Sequence[int]) -> None:
    for chunk in _chunks(list(item_ids), 500):
        session.execute(_FINISH, {"ids": chunk})


def postpone(session: Session, connection_id: str, until: datetime) -> None:
    """Pending work of a connection becomes due no earlier than ``until``."""
    session.execute(
        update(WorkItem)
        .where(
            WorkItem.connection_id == connection_id,
            WorkItem.status == WorkStatus.PENDING,
            WorkItem.not_before < until,
        )
        .values(not_before=until)
        .execution_options(synchronize_session=False)
    )


def extend_leases(session: Session, connection_id: str, until: datetime) -> None:
    session.execute(
        update(WorkItem)
        .where(WorkItem.connection_id == connection_id, WorkItem.status == WorkStatus.LEASED)
        .values(lease_until=until)
        .execution_options(synchronize_session=False)
    )


def recover_expired_leases(session: Session, now: datetime | None = None) -> int:
    """Work leased by a worker that died goes back to pending (the sweep calls this)."""
    now = now or utcnow()
    expired = list(
        session.scalars(
            select(WorkItem.id).where(
                WorkItem.status == WorkStatus.LEASED, WorkItem.lease_until < now
            )
        )
    )
    release(session, expired, now, count_attempt=False)
    return len(expired)


def connections_with_due_work(session: Session, now: datetime | None = None) -> list[str]:
    now = now or utcnow()
    return list(
        session.scalars(
            select(WorkItem.connection_id)
            .join(Connection, Connection.id == WorkItem.connection_id)
            .where(
                WorkItem.status == WorkStatus.PENDING,
                WorkItem.not_before <= now,
                Connection.status == ConnectionStatus.CONNECTED,
                Connection.push_enabled.is_(True),
            )
            .distinct()
        )
    )


def queue_depth(session: Session, connection_id: str) -> dict[str, int]:
    rows = session.execute(
        select(WorkItem.lane, func.count())
        .where(and_(WorkItem.connection_id == connection_id, WorkItem.status != WorkStatus.DONE))
        .group_by(WorkItem.lane)
    )
    depth = {lane.value: 0 for lane in Lane}
    depth.update({str(lane): int(count) for lane, count in rows})
    return depth


def most_urgent(session: Session, connection_id: str) -> int | None:
    """The lane priority of a connection's most urgent pending item (0 = live), or None."""
    return session.scalar(
        select(func.min(WorkItem.priority)).where(
            WorkItem.connection_id == connection_id, WorkItem.status == WorkStatus.PENDING
        )
    )


def next_due(session: Session, connection_id: str) -> datetime | None:
    """When the connection's next pending work is due; None if none, or if it is paused
    (waiting for a reconnect or a setup, or its pushes switched off: ``push_enabled``)."""
    value = session.scalar(
        select(func.min(WorkItem.not_before))
        .join(Connection, Connection.id == WorkItem.connection_id)
        .where(
            WorkItem.connection_id == connection_id,
            WorkItem.status == WorkStatus.PENDING,
            Connection.status == ConnectionStatus.CONNECTED,
            Connection.push_enabled.is_(True),
        )
    )
    return value


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
