"""Runs one connection's pending work: claim a batch, plan, push, record, repeat.

One runner holds a connection's lease at a time (ordering and the CRM's rate limit). Every
outcome goes through the error table's Resolution: landed, failed with a reason, retried
later with backoff, or the connection paused until it is reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from crmsync.connectors.base import Connector, RecordWrite, WriteOutcome
from crmsync.connectors.http import call_guarded
from crmsync.db.tables import Connection, User, naive_utc, utcnow
from crmsync.domain.enums import ConnectionStatus, Lane, OpStatus
from crmsync.domain.outcomes import Resolution
from crmsync.engine import outbox
from crmsync.engine.batch import BatchRecorder
from crmsync.engine.bulk import BulkJob
from crmsync.engine.connecting import apply_setup, mark_setup_required, open_connector
from crmsync.engine.lease import Lease
from crmsync.engine.outbox import ClaimRequest
from crmsync.engine.retry import consequence, delay
from crmsync.engine.runtime import Runtime
from crmsync.engine.tokens import mark_needs_reconnect
from crmsync.errors import ConnectorError, ReconnectRequired, RecordRejected, SetupRequired

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    busy: bool = False
    batches: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    more_due: bool = False
    next_due: datetime | None = None
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
            return _thread_loop().run(_contained(self._run(lease, budget)))
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
            result.next_due = outbox.next_due(session, connection_id)
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
            if not await self._prepare(conn, connector, recorder):
                result.stopped = "setup required"
                return
            await self._pump(connector, recorder, lease, budget, result, sending)
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

    async def _pump(
        self,
        connector: Connector,
        recorder: BatchRecorder,
        lease: Lease,
        budget: float,
        result: RunResult,
        sending: set[str],
    ) -> None:
        """Claim, plan, push and record batches until none is due or time is up.

        A pipeline: as soon as a group of requests returns, the group planned meanwhile is
        sent, and while it is in flight the returned outcomes are recorded and the next group
        is claimed and planned, in one transaction. The engine's own work hides behind the
        CRM's latency and the rate limit. A group is one request's worth of people, or while
        the CRM answers faster than the engine records, up to ``requests_per_transaction``
        requests' worth (``group_size``), sent one request after another. People in
        flight are never claimed again until their outcome is recorded. ``sending`` names the
        people of requests in flight, for the caller to reschedule if one fails (planned
        people never sent go back through ``abandon``). A large backfill goes to the CRM's
        bulk API as jobs while live unlocks keep flowing beside them.
        """
        size = connector.ctx.spec.batch_size
        most, requests = self.rt.settings.requests_per_transaction, 1
        in_flight: asyncio.Task[Sent] | None = None
        planned: list[RecordWrite] = []
        connection_id = lease.connection_id
        bulk = BulkJob(self.rt, connector, recorder, lease)
        deadline = time.monotonic() + budget
        claiming = True
        try:
            while True:
                # Time is up (and at least one batch moved): give the thread back if other
                # work waits for one, else carry on for another budget.
                if claiming and result.batches and time.monotonic() >= deadline:
                    if await self._yield_due():
                        claiming = False
                    else:
                        deadline = time.monotonic() + budget
                if claiming:
                    await bulk.start_if_due(sending)
                outcomes: list[WriteOutcome] = []
                if in_flight is not None:
                    sent = await in_flight
                    in_flight, outcomes = None, sent.outcomes
                    if sent.failure is not None:
                        await self._record_then_raise(recorder, sent, sent.failure, sending)
                if planned:
                    sending.update(w.local_id for w in planned)
                    in_flight = asyncio.create_task(self._push_group(connector, planned, size))
                claim = None
                if claiming or bulk.running:
                    claim = self._claim(connection_id, size * requests, bulk.lanes)
                batch, planned = await asyncio.to_thread(recorder.record_and_plan, outcomes, claim)
                if in_flight is not None:
                    requests = group_size(requests, in_flight.done(), most)
                sending.difference_update(o.local_id for o in outcomes)
                result.batches += 1 if batch else 0
                await bulk.finish_if_done(sending)
                if not batch and not planned and in_flight is None:
                    if not bulk.running:
                        return
                    await bulk.wait(seconds=0.25)  # nothing else due: wait on the job
                # renewed here as well as by the heartbeat: under load the heartbeat's turn
                # can come late, and a lease that lapses mid-run lets the sweep hand this
                # run's people to another worker (the soak caught it with 3 s leases)
                if lease.renewal_due():
                    await asyncio.to_thread(lease.renew)
        finally:
            for task in (in_flight, *bulk.tasks):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def _yield_due(self) -> bool:
        """Time is up: give the thread back only if other work waits for one."""
        if self.others_waiting is None:
            return True
        try:
            return bool(await asyncio.to_thread(self.others_waiting))
        except Exception:  # the queue is unreachable: yield, the sweep re-enqueues us
            return True

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

    def _claim(self, connection_id: str, size: int, lanes: tuple[Lane, ...]) -> ClaimRequest:
        """The next batch's claim, for the recorder to run in its transaction.
        People in flight are never claimed again (``outbox._due``) until recorded."""
        lease = timedelta(seconds=self.rt.settings.batch_lease_seconds)
        return ClaimRequest(connection_id, size, lease, lanes)

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
            report = await call_guarded(connector.ensure_setup)
            with self.rt.db.session() as session:
                row = session.get_one(Connection, conn.id)
                row.setup_checked_at = utcnow()
                if not report.ready or row.settings.get("setup", {}).get("missing"):
                    apply_setup(row, report)
                if not report.ready:
                    return False
        with self.rt.db.session() as session:
            row = session.get_one(Connection, conn.id)
            stale = not _fresh(row.owners_fetched_at, settings.owner_cache_seconds)
            owners = dict(row.owner_cache)
        if stale:
            emails = await asyncio.to_thread(self._org_emails, conn.org_id)
            users = await call_guarded(lambda: connector.list_users(emails))
            owners = {u.email.lower(): u.id for u in users if u.active and u.email}
            with self.rt.db.session() as session:
                row = session.get_one(Connection, conn.id)
                row.owner_cache = owners
                row.owners_fetched_at = utcnow()
        rec.owners = owners
        return True

    async def _push_group(self, connector: Connector, writes: list[RecordWrite], size: int) -> Sent:
        """Send a group's writes, ``size`` to a request, one request after another; stop at
        the first request that fails as a whole."""
        sent = Sent()
        for start in range(0, len(writes), size):
            try:
                sent.outcomes += await self._push(connector, writes[start : start + size])
            except ConnectorError as exc:
                sent.failure = exc
                sent.unsent = [w.local_id for w in writes[start + size :]]
                break
        return sent

    async def _record_then_raise(
        self, recorder: BatchRecorder, sent: Sent, failure: ConnectorError, sending: set[str]
    ) -> None:
        """A request of a group failed: what the group's earlier requests landed is recorded
        first, and the people of its later requests go back unsent (``abandon``: no attempt
        counted); the failure then ends the run as a single request's would."""
        await asyncio.to_thread(recorder.record, sent.outcomes)
        sending.difference_update(o.local_id for o in sent.outcomes)
        sending.difference_update(sent.unsent)
        raise failure

    async def _push(self, connector: Connector, writes: list[RecordWrite]) -> list[WriteOutcome]:
        """Push a batch; a batch the CRM refused as a whole is split to find the bad record."""
        try:
            outcomes: list[WriteOutcome] = await call_guarded(lambda: connector.push(writes))
            return outcomes
        except RecordRejected as exc:
            if len(writes) == 1:
                return [WriteOutcome(writes[0].local_id, resolution=exc.resolution)]
            middle = len(writes) // 2
            return await self._push(connector, writes[:middle]) + await self._push(
                connector, writes[middle:]
            )


def group_size(requests: int, crm_was_faster: bool, most: int) -> int:
    """Requests' worth of people for the next group. While the CRM answers before the engine
    has recorded the last group, the engine's own work is the bottleneck: larger groups share
    a transaction, and its dozen statements, between more requests (doubling, so one slow
    answer costs little). Once the engine waits on the CRM (its latency, a rate limit), a
    group is one request again at once: the shortest wait for a new unlock, which joins the
    next group claimed."""
    return min(most, requests * 2) if crm_was_faster else 1


@dataclass
class Sent:
    """What a group of requests came back with."""

    outcomes: list[WriteOutcome] = field(default_factory=list)
    failure: ConnectorError | None = None
    """The request that failed as a whole (the group stopped there)."""
    unsent: list[str] = field(default_factory=list)
    """People of the requests after the failed one: never sent."""


class _LoopHolder:
    """A worker thread's event loop, kept from run to run: a fresh loop per run (asyncio.run)
    also means a fresh thread pool, whose threads every run started again. Closed when the
    thread ends and its locals go."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()

    def __del__(self) -> None:
        loop = self.runner.get_loop()
        if not loop.is_running():  # at interpreter exit a thread may die mid-run
            loop.close()


_loops = threading.local()


def _thread_loop() -> asyncio.Runner:
    holder = getattr(_loops, "holder", None)
    if holder is None:
        holder = _loops.holder = _LoopHolder()
    runner: asyncio.Runner = holder.runner
    return runner


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
