"""A backfill's bulk jobs: for CRMs with a bulk API, a large backfill is sent as jobs.

Jobs run beside the normal batches: while any is in flight, the runner keeps claiming live
unlocks and refreshes (not the backfill lane), so a 100,000-person job never delays a live
unlock by more than a batch. Up to ``spec.bulk_parallel`` jobs are open at once, so one is
planned and uploaded while the CRM processes another. A job's people stay in flight (never
claimed twice) until their outcomes are recorded; jobs claim one at a time, each excluding
the people already in flight.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from crmsync.connectors.base import Connector
from crmsync.domain.enums import Lane
from crmsync.engine import outbox
from crmsync.engine.batch import BatchRecorder
from crmsync.engine.lease import Lease
from crmsync.engine.outbox import Claimed
from crmsync.engine.runtime import Runtime

ALL_LANES = tuple(Lane)
CHECK_EVERY = 5.0
"""Seconds between checks of how much backfill is due (a COUNT over the connection's queue)."""
RECORD_SLICE = 2_000
BESIDE_BULK = (Lane.LIVE, Lane.REFRESH)


class BulkJob:
    def __init__(
        self,
        rt: Runtime,
        connector: Connector,
        recorder: BatchRecorder,
        lease: Lease,
    ) -> None:
        self.rt = rt
        self.connector = connector
        self.recorder = recorder
        self.lease = lease
        self.connection_id = lease.connection_id
        self.tasks: set[asyncio.Task[None]] = set()
        self.next_check = 0.0
        self.claiming = asyncio.Lock()

    @property
    def running(self) -> bool:
        return bool(self.tasks)

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return BESIDE_BULK if self.running else ALL_LANES

    async def start_if_due(self, sending: set[str]) -> None:
        """Start a job when a slot is free and enough backfill is due (checked every few
        seconds at most, and again as soon as a job has claimed its people)."""
        spec = self.connector.ctx.spec
        threshold = spec.bulk_threshold
        if not threshold or len(self.tasks) >= max(1, spec.bulk_parallel):
            return
        if self.claiming.locked() or time.monotonic() < self.next_check:
            return
        self.next_check = time.monotonic() + CHECK_EVERY
        if await asyncio.to_thread(self._count_due, threshold) >= threshold:
            self.tasks.add(asyncio.create_task(self._job(sending)))

    async def _job(self, sending: set[str]) -> None:
        """Claim, plan, send and record one job, all off the pump's path: live batches keep
        flowing while tens of thousands of people are planned or recorded (recorded in
        slices, so no transaction holds the database for long)."""
        async with self.claiming:  # one claim at a time: each skips the others' people
            items = await asyncio.to_thread(self._claim)
            writes = await asyncio.to_thread(self.recorder.plan, items)
            sending.update(w.local_id for w in writes)
        self.next_check = 0.0  # the next slot may be filled at once
        if not writes:
            return
        outcomes = await self.connector.push_bulk(writes, self._heartbeat)
        del writes
        for start in range(0, len(outcomes), RECORD_SLICE):
            chunk = outcomes[start : start + RECORD_SLICE]
            await asyncio.to_thread(self.recorder.record, chunk)
            sending.difference_update(o.local_id for o in chunk)

    async def finish_if_done(self, sending: set[str]) -> None:
        """Forget finished jobs; their errors surface to the runner (which reschedules the
        people still in ``sending``)."""
        done = [task for task in self.tasks if task.done()]
        if not done:
            return
        self.tasks.difference_update(done)
        self.next_check = 0.0  # more backfill may be due for the next job at once
        for task in done:
            task.result()  # raises the job's ConnectorError, if any

    async def wait(self, seconds: float) -> None:
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)

    async def _heartbeat(self) -> None:
        await asyncio.to_thread(self.lease.renew)

    def _count_due(self, up_to: int) -> int:
        with self.rt.db.session() as session:
            return outbox.count_due(session, self.connection_id, Lane.BACKFILL, up_to)

    def _claim(self) -> list[Claimed]:
        lease = timedelta(seconds=self.rt.settings.batch_lease_seconds)
        with self.rt.db.session() as session:
            return outbox.claim_lane(
                session,
                self.connection_id,
                Lane.BACKFILL,
                self.connector.ctx.spec.bulk_max,
                lease,
            )
