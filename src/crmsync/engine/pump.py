"""The pump: one run's batches, claimed, planned, sent and recorded, as a state machine.

The life of a group of people, one turn of the pump at a time::

    CLAIMING ──► SENDING ──► RECORDING ──► CLAIMING ...     (or YIELDING, DRAINING)
        │           │                         DRAINING ──► CLAIMING | YIELDING | DONE
        ▼           ▼
    YIELDING     FAILED (raises)

``CLAIMING`` decides what the turn claims (and starts a bulk job when one is due);
``SENDING`` waits for the group in flight and sends the group planned meanwhile; ``RECORDING``
records the returned outcomes, then claims and plans the next group, in one transaction, while
that group is in flight. ``YIELDING`` is a turn after the time budget ran out while other work
waits: nothing new is claimed (but live work beside a bulk job), and what is in flight drains.
``DRAINING``: nothing claimed, planned or in flight, so the run ends unless a bulk job runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from crmsync.connectors.base import Connector
from crmsync.connectors.http import call_guarded
from crmsync.domain.writes import RecordWrite, WriteOutcome
from crmsync.engine.batch import BatchRecorder
from crmsync.engine.bulk import BulkJob
from crmsync.engine.lease import Lease
from crmsync.engine.outbox import Claimed, ClaimRequest
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError, RecordRejected


class State(StrEnum):
    CLAIMING = "claiming"
    YIELDING = "yielding"
    SENDING = "sending"
    RECORDING = "recording"
    DRAINING = "draining"
    FAILED = "failed"
    DONE = "done"


TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.CLAIMING: frozenset({State.SENDING, State.YIELDING}),
    State.YIELDING: frozenset({State.SENDING}),
    State.SENDING: frozenset({State.RECORDING, State.FAILED}),
    State.RECORDING: frozenset({State.CLAIMING, State.YIELDING, State.DRAINING}),
    State.DRAINING: frozenset({State.CLAIMING, State.YIELDING, State.DONE}),
    State.FAILED: frozenset(),
    State.DONE: frozenset(),
}
"""The moves the pump may make; any other is a bug (``IllegalTransition``)."""


class IllegalTransition(RuntimeError):
    pass


@dataclass
class Machine:
    """The pump's state, moved only along ``TRANSITIONS``."""

    state: State = State.CLAIMING

    def move(self, to: State) -> None:
        if to not in TRANSITIONS[self.state]:
            raise IllegalTransition(f"the pump cannot go from {self.state} to {to}")
        self.state = to


@dataclass
class Sent:
    """What a group of requests came back with."""

    outcomes: list[WriteOutcome] = field(default_factory=list)
    failure: ConnectorError | None = None
    """The request that failed as a whole (the group stopped there)."""
    unsent: list[str] = field(default_factory=list)
    """People of the requests after the failed one: never sent."""


def group_size(requests: int, crm_was_faster: bool, most: int) -> int:
    """Requests' worth of people for the next group. While the CRM answers before the engine
    has recorded the last group, the engine's own work is the bottleneck: larger groups share
    a transaction, and its dozen statements, between more requests (doubling, so one slow
    answer costs little). Once the engine waits on the CRM (its latency, a rate limit), a
    group is one request again at once: the shortest wait for a new unlock, which joins the
    next group claimed."""
    return min(most, requests * 2) if crm_was_faster else 1


class Pump:
    """Claim, plan, push and record groups until none is due or time is up.

    A pipeline: as soon as a group of requests returns, the group planned meanwhile is sent,
    and while it is in flight the returned outcomes are recorded and the next group is
    claimed and planned, in one transaction. A group is one request's worth of people, or
    while the CRM answers faster than the engine records, up to ``requests_per_transaction``
    requests' worth (``group_size``). People in flight are never claimed again until their
    outcome is recorded. ``sending`` names the people of requests in flight, for the caller
    to reschedule if one fails (planned people never sent go back through ``abandon``).
    """

    def __init__(
        self,
        rt: Runtime,
        connector: Connector,
        recorder: BatchRecorder,
        lease: Lease,
        budget: float,
        sending: set[str],
        others_waiting: Callable[[], bool] | None = None,
    ) -> None:
        self.rt = rt
        self.connector = connector
        self.recorder = recorder
        self.lease = lease
        self.budget = budget
        self.sending = sending
        self.others_waiting = others_waiting
        self.machine = Machine()
        self.bulk = BulkJob(rt, connector, recorder, lease)
        self.size = connector.ctx.spec.batch_size
        self.most = rt.settings.requests_per_transaction
        self.requests = 1
        self.deadline = time.monotonic() + budget
        self.batches = 0
        self.yielding = False
        self.in_flight: asyncio.Task[Sent] | None = None
        self.planned: list[RecordWrite] = []
        self.outcomes: list[WriteOutcome] = []
        self.claim: ClaimRequest | None = None
        self.claimed: list[Claimed] = []
        self.failed: Sent | None = None

    async def run(self) -> int:
        """Pump until done; returns how many batches were claimed. A failed request raises
        its ConnectorError once what landed before it is recorded."""
        try:
            while self.machine.state is not State.DONE:
                self.machine.move(await self._step(self.machine.state))
        finally:
            for task in (self.in_flight, *self.bulk.tasks):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
        return self.batches

    async def _step(self, state: State) -> State:
        match state:
            case State.CLAIMING:
                return await self._claiming()
            case State.YIELDING:
                return self._yielding()
            case State.SENDING:
                return await self._sending()
            case State.RECORDING:
                return await self._recording()
            case State.DRAINING:
                return await self._draining()
            case State.FAILED:
                return await self._failed()
            case State.DONE:
                return State.DONE

    async def _claiming(self) -> State:
        """Time is up (and at least one batch moved): yield if other work waits for the
        thread, else carry on for another budget. A bulk job starts when one is due."""
        if self.batches and time.monotonic() >= self.deadline:
            if await self._yield_due():
                self.yielding = True
                return State.YIELDING
            self.deadline = time.monotonic() + self.budget
        await self.bulk.start_if_due(self.sending)
        self.claim = self._claim_request()
        return State.SENDING

    def _yielding(self) -> State:
        """The thread goes back once drained: claim only live work beside a bulk job."""
        self.claim = self._claim_request() if self.bulk.running else None
        return State.SENDING

    async def _sending(self) -> State:
        """The group in flight returns; the group planned meanwhile goes out at once."""
        self.outcomes = []
        if self.in_flight is not None:
            sent = await self.in_flight
            self.in_flight, self.outcomes = None, sent.outcomes
            if sent.failure is not None:
                self.failed = sent
                return State.FAILED
        if self.planned:
            self.sending.update(w.local_id for w in self.planned)
            self.in_flight = asyncio.create_task(self._push_group(self.planned))
        return State.RECORDING

    async def _recording(self) -> State:
        """One transaction records the returned outcomes, then claims and plans the next
        group while the one just sent is in flight."""
        recorder, outcomes = self.recorder, self.outcomes
        self.claimed, self.planned = await asyncio.to_thread(
            recorder.record_and_plan, outcomes, self.claim
        )
        if self.in_flight is not None:
            self.requests = group_size(self.requests, self.in_flight.done(), self.most)
        self.sending.difference_update(o.local_id for o in outcomes)
        self.batches += 1 if self.claimed else 0
        await self.bulk.finish_if_done(self.sending)
        if not self.claimed and not self.planned and self.in_flight is None:
            return State.DRAINING
        return await self._next_turn()

    async def _draining(self) -> State:
        """Nothing due, planned or in flight: done, unless a bulk job runs (wait on it)."""
        if not self.bulk.running:
            return State.DONE
        await self.bulk.wait(seconds=0.25)
        return await self._next_turn()

    async def _failed(self) -> State:
        """A request of a group failed: what the group's earlier requests landed is recorded
        first, and the people of its later requests go back unsent (``abandon``: no attempt
        counted); the failure then ends the run as a single request's would."""
        sent = self.failed
        assert sent is not None and sent.failure is not None
        await asyncio.to_thread(self.recorder.record, sent.outcomes)
        self.sending.difference_update(o.local_id for o in sent.outcomes)
        self.sending.difference_update(sent.unsent)
        raise sent.failure

    async def _next_turn(self) -> State:
        # renewed here as well as by the heartbeat: under load the heartbeat's turn can come
        # late, and a lease that lapses mid-run lets the sweep hand this run's people to
        # another worker (the soak caught it with 3 s leases)
        if self.lease.renewal_due():
            await asyncio.to_thread(self.lease.renew)
        return State.YIELDING if self.yielding else State.CLAIMING

    async def _yield_due(self) -> bool:
        """Time is up: give the thread back only if other work waits for one."""
        if self.others_waiting is None:
            return True
        try:
            return bool(await asyncio.to_thread(self.others_waiting))
        except Exception:  # the queue is unreachable: yield, the sweep re-enqueues us
            return True

    def _claim_request(self) -> ClaimRequest:
        """The next group's claim, for the recorder to run in its transaction. People in
        flight are never claimed again (``outbox._due``) until recorded."""
        lease = timedelta(seconds=self.rt.settings.batch_lease_seconds)
        return ClaimRequest(
            self.lease.connection_id, self.size * self.requests, lease, self.bulk.lanes
        )

    async def _push_group(self, writes: list[RecordWrite]) -> Sent:
        """Send a group's writes, a batch to a request, one request after another; stop at
        the first request that fails as a whole."""
        sent, size = Sent(), self.size
        for start in range(0, len(writes), size):
            try:
                sent.outcomes += await self._push(writes[start : start + size])
            except ConnectorError as exc:
                sent.failure = exc
                sent.unsent = [w.local_id for w in writes[start + size :]]
                break
        return sent

    async def _push(self, writes: list[RecordWrite]) -> list[WriteOutcome]:
        """Push a batch; a batch the CRM refused as a whole is split to find the bad record."""
        try:
            outcomes: list[WriteOutcome] = await call_guarded(
                lambda: self.connector.push(writes), self.connector.spec.error_rules
            )
            return outcomes
        except RecordRejected as exc:
            if len(writes) == 1:
                return [WriteOutcome(writes[0].local_id, resolution=exc.resolution)]
            middle = len(writes) // 2
            return await self._push(writes[:middle]) + await self._push(writes[middle:])
