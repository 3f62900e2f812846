"""A run keeps its leases however long a batch takes; only a dead process loses them."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

from crmsync.engine import outbox
from crmsync.engine.runner import RunResult, SyncRunner
from tests.support.fake_connector import FakeCrm, Hold, fake_world


def test_a_slow_batch_keeps_its_leases_and_nobody_else_takes_the_work(
    sqlite_url: str, tmp_path: Path
) -> None:
    crm = FakeCrm(default=Hold(seconds=3))  # three lease lengths a request
    with fake_world(sqlite_url, tmp_path, crm, batch_lease_seconds=1) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        for pid in ("p1", "p2"):
            w.person(pid)
            w.unlock("org1", pid, "u1")
        results: list[RunResult] = []
        first = threading.Thread(target=lambda: results.append(w.runner.run(w.connection().id)))
        first.start()
        time.sleep(2)
        other = SyncRunner(dataclasses.replace(w.rt, worker_id="another-worker"))
        assert other.run(w.connection().id).busy, "the connection must still be leased"
        with w.rt.db.session() as session:
            assert outbox.recover_expired_leases(session) == 0, "no lease may have expired"
        first.join(timeout=30)
        assert results and not results[0].stopped
        assert crm.landed == {"p1": 1, "p2": 1}


def test_two_threads_of_one_worker_never_run_the_same_connection(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Found by the soak: the lease let a process re-enter its own lease, so two huey threads
    ran one connection and a person's older write could land after a newer one."""
    crm = FakeCrm(default=Hold(seconds=1.5))
    with fake_world(sqlite_url, tmp_path, crm) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        w.person("p1")
        w.unlock("org1", "p1", "u1")
        first = threading.Thread(target=lambda: w.runner.run(w.connection().id))
        first.start()
        time.sleep(0.5)
        assert w.runner.run(w.connection().id).busy, "same process, second thread: must wait"
        first.join(timeout=30)
        assert crm.landed == {"p1": 1}
