"""Runs one connection's pending work: lease, setup, owners, then the pump (``pump.py``).

One runner holds a connection's lease at a time (ordering and the CRM's rate limit). Every
outcome goes through the error table's Resolution: landed, failed with a reason, retried
later with backoff, or the connection paused until it is reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from crmsync.connectors.base import Connector
from crmsync.connectors.http import call_guarded
from crmsync.db.tables import Connection, User, naive_utc, utcnow
from crmsync.domain.enums import ConnectionStatus, OpStatus
from crmsync.domain.outcomes import Resolution
from crmsync.engine import outbox
from crmsync.engine.batch import BatchRecorder
from crmsync.engine.connecting import apply_setup, mark_setup_required, open_connector
from crmsync.engine.conversations import ConversationExport
from crmsync.engine.inbound import InboundSync, either_due, next_read_at
from crmsync.engine.lease import Lease
from crmsync.engine.pump import Pump
from crmsync.engine.retry import consequence, delay
from crmsync.engine.runtime import Runtime
from crmsync.engine.tokens import mark_needs_reconnect
from crmsync.errors import ConnectorError, ReconnectRequired, SetupRequired

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    busy: bool = False
    batches: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    more_due: bool = False
    next_due: datetime | None = None
    inbound: dict[str, int] = field(default_factory=dict)
    """What reading the CRM back took in (empty when no read was due)."""
    stopped: str = ""


class SyncRunner:
    def __init__(self, rt: Runtime, others_waiting: Callable[[], bool] | None = None) -> None:
        self.rt = rt
        self.others_waiting = others_waiting
        """Does other work wait for a thread? (the task queue's answer; None: never)"""

    def run(self, connection_id: str, budget_seconds: float | None = None) -> RunResult:
        """Process due work; safe to call from any worker thread.

        After ``budget_seconds`` (default ``run_seconds``) the run gives its thread back if
        other work waits in the queue, and carries on for another budget if none does."""
        lease = Lease(self.rt, connection_id)
        if not lease.take():
            return RunResult(busy=True)
        budget = self.rt.settings.run_seconds if budget_seconds is None else budget_seconds
        try:
            return self.rt.loops.runner().run(_contained(self._run(lease, budget)))
        finally:
            lease.drop()

    async def _run(self, lease: Lease, budget: float) -> RunResult:
        connection_id = lease.connection_id
        result = RunResult()
        with self.rt.db.session() as session:
            conn = session.get_one(Connection, connection_id)
        try:
            async with open_connector(self.rt, conn) as connector:
                await self._drive(conn, connector, budget, result, lease)
        except ReconnectRequired as exc:  # no usable tokens: the connector never opened
            mark_needs_reconnect(self.rt.db, connection_id, str(exc))
            result.stopped = str(exc)
        with self.rt.db.session() as session:
            result.next_due = either_due(
                outbox.next_due(session, connection_id), next_read_at(session, connection_id)
            )
        if result.next_due is not None:
            due = naive_utc(result.next_due) <= naive_utc(utcnow())
            result.more_due = due and not result.stopped
        return result

    async def _drive(
        self,
        conn: Connection,
        connector: Connector,
        budget: float,
        result: RunResult,
        lease: Lease,
    ) -> None:
        """Prepare, then pump batches; every way a run can end leaves the queue consistent."""
        connection_id = conn.id
        recorder = BatchRecorder(self.rt, conn)
        sending: set[str] = set()
        beat = asyncio.create_task(self._heartbeat(lease))
        try:
            if self._pushes(connection_id):
                if not await self._prepare(conn, connector, recorder):
                    result.stopped = "setup required"
                    return
                pump = Pump(
                    self.rt, connector, recorder, lease, budget, sending, self.others_waiting
                )
                try:
                    await pump.run()
                finally:
                    result.batches += pump.batches
                await self._export_conversations(conn, connector, budget, result)
            await self._read_back(conn, connector, budget, result)
        except ConnectorError as exc:
            paused = consequence(exc.resolution).pause
            if paused is not None:
                result.stopped = self._pause(connection_id, paused, exc, recorder)
                return
            recorder.retry_later(exc.resolution, sending)
            if not sending:  # nothing was sent: the run could not even prepare
                self._postpone(connection_id, exc.resolution)
            result.stopped = str(exc)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            recorder.abandon()
            for status, count in recorder.counts.items():
                result.outcomes[status] = result.outcomes.get(status, 0) + count

    async def _export_conversations(
        self, conn: Connection, connector: Connector, budget: float, result: RunResult
    ) -> None:
        """Once the contacts due are sent (a conversation's contact first): its
        conversations, until none is due or the budget is spent."""
        deadline = time.monotonic() + budget

        async def give_way() -> bool:
            return time.monotonic() >= deadline

        export = ConversationExport(self.rt, conn, connector)
        counts = await export.run(give_way)
        for status, count in counts.items():
            result.outcomes[status] = result.outcomes.get(status, 0) + count

    async def _read_back(
        self, conn: Connection, connector: Connector, budget: float, result: RunResult
    ) -> None:
        """Once the push work due is sent: read the CRM's changes back, if due, giving way
        between pages as soon as push work is due again or the budget is spent."""
        inbound = InboundSync(self.rt, conn, connector)
        if not await asyncio.to_thread(inbound.due):
            return
        deadline = time.monotonic() + budget

        async def give_way() -> bool:
            if time.monotonic() >= deadline:
                return True
            with self.rt.db.session() as session:
                due = outbox.next_due(session, conn.id)
            return due is not None and naive_utc(due) <= naive_utc(utcnow())

        try:
            counts = await inbound.run(give_way)
        except ConnectorError as exc:
            if consequence(exc.resolution).pause is not None:
                raise
            settings = self.rt.settings
            wait = delay(0, settings.retry_base_seconds, settings.retry_max_seconds, exc.resolution)
            await asyncio.to_thread(inbound.failed, str(exc), wait)
            return
        result.inbound = dict(counts)

    async def _heartbeat(self, lease: Lease) -> None:
        """Keep this run's leases while it lives, however long a batch takes: only a dead
        process lets them expire (and then the sweep hands its work to another worker)."""
        interval = max(0.5, lease.seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(lease.renew)
            except Exception:  # a database blip must not end the heartbeat: try next beat
                log.warning("could not renew the lease of %s", lease.connection_id, exc_info=True)

    def _pushes(self, connection_id: str) -> bool:
        """Read at the start of every run: with pushes switched off (``push_enabled``) the run
        sends nothing, not even a setup check (it may create fields), and claims nothing: the
        queue waits as it is. Reading back goes on."""
        with self.rt.db.session() as session:
            return outbox.pushes(session, connection_id)

    def _org_emails(self, org_id: str) -> list[str]:
        with self.rt.db.session() as session:
            return list(session.scalars(select(User.email).where(User.org_id == org_id)))

    def _postpone(self, connection_id: str, resolution: Resolution) -> None:
        """The CRM refused before any write (setup check, owner list): due work waits as the
        error table says instead of being retried by every sweep."""
        settings = self.rt.settings
        wait = delay(0, settings.retry_base_seconds, settings.retry_max_seconds, resolution)
        with self.rt.db.session() as session:
            outbox.postpone(session, connection_id, utcnow() + timedelta(seconds=wait))

    def _pause(
        self,
        connection_id: str,
        state: ConnectionStatus,
        exc: ConnectorError,
        recorder: BatchRecorder,
    ) -> str:
        """Authorisation lost, or the CRM needs its admin: the connection stops in ``state``
        and every write in flight waits, no attempt counted, until the admin acts."""
        if state is ConnectionStatus.SETUP_REQUIRED:
            missing = exc.missing if isinstance(exc, SetupRequired) else ()
            reason = f"the CRM needs setting up: {exc}"
            mark_setup_required(self.rt.db, connection_id, str(exc), missing)
            recorder.pause(reason, OpStatus.RETRYING)
        else:
            reason = f"authorisation lost: {exc}"
            mark_needs_reconnect(self.rt.db, connection_id, reason)
            recorder.pause(reason, OpStatus.WAITING_RECONNECT)
        return reason

    async def _prepare(self, conn: Connection, connector: Connector, rec: BatchRecorder) -> bool:
        """Custom fields exist and the owner cache is fresh, before any write of this run.

        Both answers are cached on the connection (``setup_check_seconds``,
        ``owner_cache_seconds``): a run that starts every few seconds must not spend the CRM's
        rate limit asking again."""
        settings = self.rt.settings
        with self.rt.db.session() as session:
            row = session.get_one(Connection, conn.id)
            checked = _fresh(row.setup_checked_at, settings.setup_check_seconds)
            checked = checked and not row.settings.get("setup", {}).get("missing")
        if not checked:
            report = await call_guarded(connector.ensure_setup, connector.spec.error_rules)
            with self.rt.db.session() as session:
                row = session.get_one(Connection, conn.id)
                row.setup_checked_at = utcnow()
                missing = row.settings.get("setup", {}).get("missing")
                if not report.ready or missing or report.kept:
                    apply_setup(row, report)
                if not report.ready:
                    return False
        with self.rt.db.session() as session:
            row = session.get_one(Connection, conn.id)
            stale = not _fresh(row.owners_fetched_at, settings.owner_cache_seconds)
            owners = dict(row.owner_cache)
        if stale:
            emails = await asyncio.to_thread(self._org_emails, conn.org_id)
            users = await call_guarded(
                lambda: connector.list_users(emails), connector.spec.error_rules
            )
            owners = {u.email.lower(): u.id for u in users if u.active and u.email}
            with self.rt.db.session() as session:
                row = session.get_one(Connection, conn.id)
                row.owner_cache = owners
                row.owners_fetched_at = utcnow()
        rec.owners = owners
        return True


async def _contained(work: Awaitable[RunResult]) -> RunResult:
    """Run ``work``, then cancel whatever it left behind, as ``asyncio.run`` would: the next
    run on this thread's loop starts clean."""
    try:
        return await work
    finally:
        this = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not this]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)


def _fresh(at: datetime | None, seconds: float) -> bool:
    return at is not None and naive_utc(utcnow()) - naive_utc(at) <= timedelta(seconds=seconds)
