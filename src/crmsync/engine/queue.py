"""The task queue: huey on SQLite in one process, or on Redis with many worker processes.

Tasks carry only a connection id ("look at connection X"); what to do lives in the outbox, so
losing the queue loses nothing: the periodic sweep finds due work and enqueues it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.consumer import Consumer

from crmsync.db.tables import naive_utc, utcnow
from crmsync.engine import outbox
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime


def build_huey(rt: Runtime) -> Huey:
    if rt.settings.redis_url:
        return RedisHuey("crmsync", url=rt.settings.redis_url)
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("crmsync", filename=str(rt.settings.data_dir / "queue.db"))


@dataclass
class TaskQueue:
    huey: Huey
    sync_connection: Any
    sweep: Any

    def kick(self, connection_id: str) -> None:
        self.sync_connection(connection_id)


def create_queue(rt: Runtime, huey: Huey | None = None) -> TaskQueue:
    """Register the tasks on a huey instance and point ``rt.kick`` at them."""
    huey = huey or build_huey(rt)
    runner = SyncRunner(rt)

    @huey.task(name="crmsync.sync_connection")  # type: ignore[untyped-decorator]
    def sync_connection(connection_id: str) -> dict[str, Any]:
        result = runner.run(connection_id)
        if not result.busy:
            _follow_up(connection_id)
        return {"batches": result.batches, "outcomes": result.outcomes, "busy": result.busy}

    def _follow_up(connection_id: str) -> None:
        """Re-check after the lease is gone, so a kick that found us busy is never lost."""
        with rt.db.session() as session:
            due = outbox.next_due(session, connection_id)
        if due is None:
            return
        delay = (naive_utc(due) - naive_utc(utcnow())).total_seconds()
        if delay <= 0:
            sync_connection(connection_id)
        else:
            sync_connection.schedule(args=(connection_id,), delay=delay)

    @huey.periodic_task(crontab(minute="*"), name="crmsync.sweep")  # type: ignore[untyped-decorator]
    def sweep() -> int:
        return sweep_now(rt, sync_connection)

    queue = TaskQueue(huey=huey, sync_connection=sync_connection, sweep=sweep)
    rt.kick = queue.kick
    return queue


def sweep_now(rt: Runtime, enqueue: Any) -> int:
    """Recover work whose worker died and enqueue every connection with due work."""
    with rt.db.session() as session:
        outbox.recover_expired_leases(session)
        due = outbox.connections_with_due_work(session)
    for connection_id in due:
        enqueue(connection_id)
    return len(due)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A huey consumer running in the service's own process; the server owns the signals."""

    def _set_signal_handlers(self) -> None:
        return None


def start_embedded(queue: TaskQueue, workers: int) -> EmbeddedConsumer:
    consumer = EmbeddedConsumer(queue.huey, workers=workers, worker_type="thread", periodic=True)
    consumer.start()
    return consumer
