"""The inbound half of a connection's run: read what changed in the CRM since the CRM's own
cursor, and take it in (``intake``), page by page.

It runs inside the connection's run, under its lease, after the push work due has been sent:
one writer per connection, so a push never records over a shadow the read just moved. Between
pages it gives way as soon as push work is due again, so a live unlock waits at most one page.
Webhook hints (``InboundEvent``) are read first, by id; the schedule (``sync_interval_minutes``,
default 15) is the safety net that reads every change since the cursor. A cursor the CRM no
longer covers (``ChangePage.full_sync_needed``) turns the run into a full reconciliation.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from crmsync.connectors.base import Connector
from crmsync.db.tables import (
    Connection,
    Flow,
    InboundEvent,
    ObjectMapping,
    SyncState,
    naive_utc,
    utcnow,
)
from crmsync.domain.enums import ConnectionStatus, Direction
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import ValueKind
from crmsync.domain.modes import ImportMode
from crmsync.domain.records import Capability, Change, ChangeKind, ChangePage
from crmsync.engine.intake import Intake
from crmsync.engine.reads import load_flow
from crmsync.engine.runtime import Runtime

log = logging.getLogger(__name__)

READS = (Direction.BOTH, Direction.PULL)
HINTS_PER_READ = 100
MIN_INTERVAL, MAX_INTERVAL = 10, 24 * 60
"""Minutes between scheduled reads a connection may choose."""


def reading_objects(session: Session, connection_id: str) -> list[ObjectMapping]:
    """The connection's object mappings that read the CRM back (direction both or pull)."""
    return list(
        session.scalars(
            select(ObjectMapping)
            .join(Flow, Flow.id == ObjectMapping.flow_id)
            .where(Flow.target == connection_id, ObjectMapping.direction.in_(READS))
        )
    )


def next_read_at(
    session: Session, connection_id: str, now: datetime | None = None
) -> datetime | None:
    """When the connection next reads its CRM: at once (``now``) for hints or a requested
    sync, else its schedule; None when it does not read (or is paused)."""
    moment = naive_utc(now or utcnow())
    conn = session.get(Connection, connection_id)
    if conn is None or conn.status != ConnectionStatus.CONNECTED:
        return None
    objects = reading_objects(session, connection_id)
    if not objects:
        return None
    if _hinted(session, connection_id):
        return moment
    interval = timedelta(minutes=conn.sync_interval_minutes)
    times: list[datetime] = []
    for obj in objects:
        state = session.get(SyncState, (connection_id, obj.crm_object))
        if state is None or state.next_run_at is None:
            times.append(naive_utc(conn.connected_at) + interval)
        elif state.full_sync_requested:
            times.append(moment)
        else:
            times.append(naive_utc(state.next_run_at))
    return min(times)


def connections_reading_due(session: Session, now: datetime | None = None) -> list[str]:
    """Connections whose read is due (for the sweep)."""
    moment = naive_utc(now or utcnow())
    reading = session.scalars(
        select(Flow.target)
        .join(ObjectMapping, ObjectMapping.flow_id == Flow.id)
        .join(Connection, Connection.id == Flow.target)
        .where(
            ObjectMapping.direction.in_(READS),
            Connection.status == ConnectionStatus.CONNECTED,
        )
        .distinct()
    )
    due: list[str] = []
    for connection_id in reading:
        at = next_read_at(session, connection_id, moment)
        if at is not None and naive_utc(at) <= moment:
            due.append(connection_id)
    return due


def request_sync(session: Session, connection_id: str, full: bool) -> None:
    """ "Sync now" (and "Full sync"): the next run reads at once."""
    for obj in reading_objects(session, connection_id):
        state = _state(session, connection_id, obj.crm_object)
        state.next_run_at = utcnow()
        state.full_sync_requested = state.full_sync_requested or full


def reschedule(session: Session, conn: Connection) -> None:
    """A new interval: reads scheduled further out than it allows come forward."""
    latest = naive_utc(utcnow()) + timedelta(minutes=conn.sync_interval_minutes)
    for obj in reading_objects(session, conn.id):
        state = _state(session, conn.id, obj.crm_object)
        base = state.last_success_at or conn.connected_at
        state.next_run_at = min(
            naive_utc(base) + timedelta(minutes=conn.sync_interval_minutes), latest
        )


def _hinted(session: Session, connection_id: str) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.connection_id == connection_id, InboundEvent.processed_at.is_(None))
        )
    )


def _state(session: Session, connection_id: str, crm_object: str) -> SyncState:
    state = session.get(SyncState, (connection_id, crm_object))
    if state is None:
        state = SyncState(
            connection_id=connection_id, crm_object=crm_object, full_sync_requested=False
        )
        session.add(state)
        session.flush()
    return state


class InboundSync:
    """Reads one connection's CRM back for every object mapping that reads."""

    def __init__(self, rt: Runtime, conn: Connection, connector: Connector) -> None:
        self.rt = rt
        self.conn = conn
        self.connector = connector
        self.counts: Counter[str] = Counter()

    def due(self) -> bool:
        if Capability.READ_CHANGES not in self.connector.capabilities:
            return False
        now = naive_utc(utcnow())
        with self.rt.db.session() as session:
            at = next_read_at(session, self.conn.id, now)
        return at is not None and naive_utc(at) <= now

    def failed(self, reason: str, wait_seconds: float) -> None:
        """A read the CRM refused (rate limit, outage): the cursor stays, the read waits."""
        with self.rt.db.session() as session:
            for obj in reading_objects(session, self.conn.id):
                state = _state(session, self.conn.id, obj.crm_object)
                state.last_error = reason
                state.next_run_at = utcnow() + timedelta(seconds=wait_seconds)

    async def run(self, give_way: Callable[[], Awaitable[bool]]) -> Counter[str]:
        """Read hints, then changes since the cursor, until caught up or ``give_way`` says
        push work is due; returns what was taken in."""
        with self.rt.db.session() as session:
            flow = load_flow(session, self.conn.id)
            conn = session.get_one(Connection, self.conn.id)
            owners = {str(v): k for k, v in (conn.owner_cache or {}).items()}
            preserve = conn.preserve_manual_edits
            mode = ImportMode(conn.import_mode)
        for mapping in flow.objects:
            if mapping.local_object != CONTACT:
                continue
            intake = Intake(
                org_id=self.conn.org_id,
                connection_id=self.conn.id,
                reader=self.conn.id,
                mapping=mapping,
                user_emails=owners,
                preserve_manual_edits=preserve,
                mode=mode,
                stored=self.connector.stored_value,
            )
            await self._hints(intake)
            await self._changes(intake, give_way)
            self.counts.update(intake.counts)
        return self.counts

    async def _hints(self, intake: Intake) -> None:
        """Records a CRM webhook named: read by id (hints, not truth: what the CRM holds now
        is taken, whatever the event said)."""
        if Capability.READ not in self.connector.capabilities:
            return
        while True:
            with self.rt.db.session() as session:
                events = list(
                    session.scalars(
                        select(InboundEvent)
                        .where(
                            InboundEvent.connection_id == self.conn.id,
                            InboundEvent.processed_at.is_(None),
                        )
                        .order_by(InboundEvent.received_at)
                        .limit(HINTS_PER_READ)
                    )
                )
            if not events:
                return
            ids = list(dict.fromkeys(e.crm_id for e in events))
            fields = [f.crm_field for f in intake.mapping.fields.fields]
            records = await self.connector.read(ids, fields)
            found = {r.crm_id for r in records}
            changes = [
                Change(ChangeKind.UPSERTED, r.crm_id, r.modified_at or "", record=r)
                for r in records
            ]
            changes += [
                Change(ChangeKind.DELETED, e.crm_id, "")
                for e in events
                if e.crm_id not in found and e.kind == "deleted"
            ]
            keys = [(e.connection_id, e.event_id) for e in events]

            await self.learn_owners(intake, changes)

            def take(
                session: Session, changes: list[Change] = changes, keys: list[Any] = keys
            ) -> None:
                intake.take(session, changes)
                for connection_id, event_id in keys:
                    session.execute(
                        update(InboundEvent)
                        .where(
                            InboundEvent.connection_id == connection_id,
                            InboundEvent.event_id == event_id,
                        )
                        .values(processed_at=utcnow())
                    )

            await asyncio.to_thread(self.rt.db.transaction, take)

    async def learn_owners(self, intake: Intake, changes: list[Change]) -> None:
        """The emails of owners read back whom the cache does not know (CRM users who are
        none of the org's users): reported as unmatched with their email, never dropped."""
        owner_fields = [
            f.crm_field for f in intake.mapping.fields.fields if f.kind is ValueKind.USER
        ]
        unknown = {
            str(value)
            for change in changes
            if change.record is not None
            for name in owner_fields
            if (value := change.record.fields.get(name)) and str(value) not in intake.user_emails
        }
        if unknown:
            for user in await self.connector.users_by_id(sorted(unknown)):
                if user.email:
                    intake.user_emails[user.id] = user.email

    async def _changes(self, intake: Intake, give_way: Callable[[], Awaitable[bool]]) -> None:
        crm_object = intake.mapping.crm_object
        fields = [f.crm_field for f in intake.mapping.fields.fields]
        with self.rt.db.session() as session:
            state = _state(session, self.conn.id, crm_object)
            full = state.full_sync_requested
            cursor = None if full else state.cursor
        while True:
            page: ChangePage = await self.connector.read_changes(cursor, fields)
            if page.full_sync_needed and cursor is not None:
                log.info("%s: the CRM no longer covers the cursor: full sync", self.conn.id)
                cursor, full = None, True
                continue
            self.counts["read"] += len(page.changes)
            done = not page.more
            await self.learn_owners(intake, page.changes)

            def take(
                session: Session, page: ChangePage = page, done: bool = done, full: bool = full
            ) -> None:
                intake.take(session, page.changes)
                state = _state(session, self.conn.id, crm_object)
                state.cursor = page.cursor
                state.last_run_at = utcnow()
                if done:
                    state.last_success_at = utcnow()
                    state.next_run_at = utcnow() + timedelta(
                        minutes=self.conn.sync_interval_minutes
                    )
                    state.last_report = dict(intake.counts)
                    state.last_error = None
                    if full:
                        state.full_sync_requested = False
                        state.last_full_sync_at = utcnow()

            await asyncio.to_thread(self.rt.db.transaction, take)
            cursor = page.cursor
            if done or await give_way():
                return
            await self._hints(intake)  # a webhook during a long (full) read waits one page


def either_due(*times: datetime | None) -> datetime | None:
    """The earliest of the times given (None: not due)."""
    known = [naive_utc(t) for t in times if t is not None]
    return min(known) if known else None
