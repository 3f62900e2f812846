"""Scheduling across connections: live work first, runs share the threads, setup is cached."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from huey import SqliteHuey

from crmsync.db import migrate
from crmsync.db.tables import Connection, Org
from crmsync.domain.enums import Lane
from crmsync.domain.keys import CONTACT
from crmsync.engine import outbox
from crmsync.engine.queue import create_queue
from crmsync.engine.runner import SyncRunner
from crmsync.engine.runtime import Runtime
from crmsync.settings import Settings
from tests.support.fake_connector import FakeCrm, fake_world
from tests.support.world import World, world


def test_a_live_unlock_is_taken_before_backfills_queued_earlier(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Helper run of bench/fanout.py: live unlocks waited behind every queued connection
    (p99 28.8 s at 30 orgs) because the queue was first-in first-out."""
    migrate.upgrade(sqlite_url)
    rt = Runtime.from_settings(
        Settings(
            data_dir=tmp_path,
            database_url=sqlite_url,
            encryption_key=Fernet.generate_key().decode(),
        )
    )
    with rt.db.session() as session:
        session.add_all([Org(id="a", name="a"), Org(id="b", name="b")])
        session.flush()
        conns = [
            Connection(org_id=org, provider="hubspot", settings={}, owner_cache={})
            for org in ("a", "b")
        ]
        session.add_all(conns)
        session.flush()
        backfill, live = (c.id for c in conns)
        outbox.enqueue(session, backfill, CONTACT, ["p1", "p2"], Lane.BACKFILL)
        outbox.enqueue(session, live, CONTACT, ["p3"], Lane.LIVE)
    huey = SqliteHuey("test", filename=str(tmp_path / "queue.db"))
    queue = create_queue(rt, huey)
    queue.kick(backfill)
    queue.kick(live)
    order = [huey.dequeue().args[0] for _ in range(2)]
    assert order == [live, backfill]


@contextmanager
def backfill_of_three_batches(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    """A connected org with 250 people due in the backfill lane (three batches of 100, each
    its own transaction)."""
    with world(sqlite_url, tmp_path, "hubspot", requests_per_transaction=1) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        for i in range(250):
            w.person(f"p{i}")
        w.enqueue([f"p{i}" for i in range(250)], Lane.BACKFILL)
        yield w


@pytest.mark.parametrize("others_waiting", [True, False])
def test_a_run_gives_its_thread_back_only_when_others_wait(
    sqlite_url: str, tmp_path: Path, others_waiting: bool
) -> None:
    with backfill_of_three_batches(sqlite_url, tmp_path) as w:
        runner = SyncRunner(w.rt, others_waiting=lambda: others_waiting)
        result = runner.run(w.connection().id, budget_seconds=0)
        landed = len(w.harness.records())
        if others_waiting:  # one batch, then the thread goes back
            assert result.batches == 1 and landed == 100 and result.more_due
        else:
            assert result.batches == 3 and landed == 250 and not result.more_due


def test_the_setup_check_is_cached_between_runs(sqlite_url: str, tmp_path: Path) -> None:
    """Runs now restart every few seconds under load: asking the CRM whether its custom
    fields exist at each start would spend its rate limit (one extra call per run)."""
    crm = FakeCrm()
    with fake_world(sqlite_url, tmp_path, crm) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        before = crm.calls["ensure_setup"]
        for i in range(3):
            w.person(f"p{i}")
            w.unlock("org1", f"p{i}", "u1")
            w.runner.run(w.connection().id)
        assert crm.landed == {"p0": 1, "p1": 1, "p2": 1}
        assert crm.calls["ensure_setup"] - before <= 1


def test_a_stopping_worker_gets_its_threads_back_with_leases_dropped(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy's SIGTERM stops ``crmsync worker`` gracefully (``WorkerConsumer``): a run
    that would carry on through a backfill (nobody else waiting) yields instead, and the
    connection is free at once rather than after a dead worker's lease expires."""
    with backfill_of_three_batches(sqlite_url, tmp_path) as w:
        monkeypatch.setattr(w.rt.settings, "run_seconds", 0.0)
        huey = SqliteHuey("stop", filename=str(tmp_path / "stop.db"))
        queue = create_queue(w.rt, huey)
        queue.stopping.set()
        queue.kick(w.connection().id)
        huey.execute(huey.dequeue())
        assert len(w.harness.records()) == 100, "one batch, then the thread goes back"
        conn = w.connection()
        assert conn.lease_owner is None and conn.lease_until is None


def test_the_heartbeat_outlives_a_failed_renewal() -> None:
    """A renewal that fails (PostgreSQL picked it as a deadlock victim) must not end the
    heartbeat: the soak caught a dead heartbeat letting a live run's leases lapse, and the
    sweep handing its people to another worker (duplicates)."""
    import asyncio

    class FlakyLease:
        connection_id = "c1"
        seconds = 1.5  # a beat every 0.5 s

        def __init__(self) -> None:
            self.calls = 0

        def renew(self) -> None:
            self.calls += 1
            if self.calls == 1:
                raise RuntimeError("deadlock detected")

    async def beat_for(lease: FlakyLease, seconds: float) -> bool:
        runner = SyncRunner.__new__(SyncRunner)
        task = asyncio.create_task(runner._heartbeat(lease))  # type: ignore[arg-type]
        await asyncio.sleep(seconds)
        alive = not task.done()
        task.cancel()
        return alive

    lease = FlakyLease()
    assert asyncio.run(beat_for(lease, 1.3))
    assert lease.calls >= 2, "the beat after the failure renewed"
