"""The task queue: huey on SQLite in one process, or on Redis with many worker processes.

Tasks carry only a connection id ("look at connection X"); what to do lives in the outbox, so
losing the queue loses nothing: the periodic sweep finds due work and enqueues it again.

Tasks are prioritised by the connection's most urgent pending lane, and a run gives its
thread back after ``run_seconds`` when other tasks wait: so a live unlock on one connection
is not queued behind a backfill or a refresh wave on a hundred others.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from huey import Huey, PriorityRedisHuey, SqliteHuey
from huey.consumer import Consumer

from crmsync.db.tables import naive_utc, utcnow
from crmsync.domain.enums import LANE_PRIORITY
from crmsync.engine import delivery, inbound, outbox
from crmsync.engine.inbound import either_due, next_read_at
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime

log = logging.getLogger(__name__)


def build_huey(rt: Runtime) -> Huey:
    if rt.settings.redis_url:
        return PriorityRedisHuey(rt.settings.queue_name, url=rt.settings.redis_url)
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(rt.settings.queue_name, filename=str(rt.settings.data_dir / "queue.db"))


class Sweeper:
    """Every ``sweep_interval_seconds``: recover expired leases, enqueue due connections.

    A thread rather than a huey periodic task: those run at most once a minute, and how
    soon a dead worker's work moves on is set here."""

    def __init__(self, rt: Runtime, enqueue: Any, deliver: Any = None) -> None:
        self.rt = rt
        self.enqueue = enqueue
        self.deliver = deliver
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="crmsync-sweeper", daemon=True)

    def start(self) -> None:
        sweep_now(
            self.rt, self.enqueue, self.deliver
        )  # work left by a previous run resumes at once
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _loop(self) -> None:
        while not self.stopped.wait(self.rt.settings.sweep_interval_seconds):
            try:
                sweep_now(self.rt, self.enqueue, self.deliver)
            except Exception:  # a database blip must not end the sweeper
                log.exception("sweep failed; retrying at the next interval")


@dataclass
class TaskQueue:
    huey: Huey
    sync_connection: Any
    sweeper: Sweeper
    stopping: threading.Event
    """Set when the process shuts down: runs give their thread back at their next check."""

    def kick(self, connection_id: str) -> None:
        self.sync_connection(connection_id)


TOP = max(LANE_PRIORITY.values())
FED = frozenset({"taken", "deactivated", "reactivated"})
"""What a read back counts when it appended to the change feed (``engine.intake``)."""


def task_priority(rt: Runtime, connection_id: str) -> int:
    """Higher runs first: live work 2, refreshes 1, backfill or nothing pending 0."""
    with rt.db.session() as session:
        lane = outbox.most_urgent(session, connection_id)
    return 0 if lane is None else TOP - lane


def create_queue(rt: Runtime, huey: Huey | None = None) -> TaskQueue:
    """Register the tasks on a huey instance and point ``rt.kick`` at them."""
    huey = huey or build_huey(rt)
    stopping = threading.Event()
    runner = SyncRunner(rt, others_waiting=lambda: stopping.is_set() or bool(huey.pending_count()))

    @huey.task(name="crmsync.sync_connection")  # type: ignore[untyped-decorator]
    def run_connection(connection_id: str) -> dict[str, Any]:
        result = runner.run(connection_id)
        log.debug("run %s: %s", connection_id, result)
        if FED.intersection(result.inbound):  # the host hears within seconds, not a sweep
            deliver_webhooks(priority=TOP)
        if not result.busy:
            _follow_up(connection_id)
        return {"batches": result.batches, "outcomes": result.outcomes, "busy": result.busy}

    def _follow_up(connection_id: str) -> None:
        """Re-check after the lease is gone, so a kick that found us busy is never lost."""
        with rt.db.session() as session:
            due = either_due(
                outbox.next_due(session, connection_id), next_read_at(session, connection_id)
            )
        if due is None:
            return
        delay = (naive_utc(due) - naive_utc(utcnow())).total_seconds()
        priority = task_priority(rt, connection_id)
        log.debug("follow up %s in %.1f s at priority %d", connection_id, delay, priority)
        if delay <= 0:
            run_connection(connection_id, priority=priority)
        else:
            run_connection.schedule(args=(connection_id,), delay=delay, priority=priority)

    def sync_connection(connection_id: str) -> None:
        run_connection(connection_id, priority=task_priority(rt, connection_id))

    @huey.task(name="crmsync.deliver_webhooks")  # type: ignore[untyped-decorator]
    def deliver_webhooks() -> dict[str, int]:
        """Send every due webhook delivery; concurrent tasks claim disjoint batches."""
        report = delivery.deliver_all_due(rt)
        return {"delivered": report.delivered, "retrying": report.retrying}

    queue = TaskQueue(
        huey=huey,
        sync_connection=sync_connection,
        sweeper=Sweeper(rt, sync_connection, lambda: deliver_webhooks(priority=TOP)),
        stopping=stopping,
    )
    rt.kick = queue.kick
    return queue


def sweep_now(rt: Runtime, enqueue: Any, deliver: Any = None) -> int:
    """Recover work whose worker died and enqueue every connection with due work (push work
    or a read of the CRM), and a delivery task when a webhook delivery is due (a delivery's
    expired lease makes it due again by itself)."""
    with rt.db.session() as session:
        outbox.recover_expired_leases(session)
        due = outbox.connections_with_due_work(session)
        due += [c for c in inbound.connections_reading_due(session) if c not in due]
        deliveries_due = deliver is not None and delivery.any_due(session)
    if deliveries_due:
        deliver()
    for connection_id in due:
        enqueue(connection_id)
    return len(due)


class WorkerConsumer(Consumer):  # type: ignore[misc]
    """``crmsync worker``'s consumer: SIGTERM (what a deploy sends) stops it gracefully.

    Runs are told to give their thread back at their next check (within ``run_seconds`` and
    the batch in flight), record what they sent and drop their leases, so a restart does not
    leave connections waiting for a dead worker's lease to expire (``batch_lease_seconds``).
    A second SIGTERM, or SIGINT, stops at once; the sweep recovers the leases then."""

    def __init__(self, queue: TaskQueue, workers: int, shutdown_timeout: float) -> None:
        super().__init__(
            queue.huey,
            workers=workers,
            worker_type="thread",
            periodic=False,
            graceful_signal="TERM",
            shutdown_timeout=shutdown_timeout,
        )
        self.queue = queue

    def stop(self, graceful: bool = False) -> None:
        self.queue.stopping.set()
        self.queue.sweeper.stop()
        super().stop(graceful=graceful)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer running in the service's own process; the server owns the signals."""

    def _set_signal_handlers(self) -> None:
        return None


def start_embedded(queue: TaskQueue, workers: int) -> EmbeddedConsumer:
    consumer = EmbeddedConsumer(queue.huey, workers=workers, worker_type="thread", periodic=False)
    consumer.start()
    queue.sweeper.start()
    return consumer
