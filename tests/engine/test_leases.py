"""A run keeps its leases however long a batch takes; only a dead process loses them."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from crmsync.connectors.base import RecordWrite, WriteOutcome
from crmsync.engine import outbox
from crmsync.engine.runner import RunResult, SyncRunner
from crmsync.providers.hubspot.connector import HubSpotConnector
from tests.support.world import world


def test_a_slow_batch_keeps_its_leases_and_nobody_else_takes_the_work(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with world(sqlite_url, tmp_path, "hubspot", batch_lease_seconds=1) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        for pid in ("p1", "p2"):
            w.person(pid)
            w.unlock("org1", pid, "u1")
        real_push = HubSpotConnector.push

        async def slow_push(
            self: HubSpotConnector, writes: Sequence[RecordWrite]
        ) -> list[WriteOutcome]:
            await asyncio.sleep(3)  # three lease lengths
            return await real_push(self, writes)

        monkeypatch.setattr(HubSpotConnector, "push", slow_push)
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
        records = w.records_by_person()
        assert sorted(records) == ["p1", "p2"] and all(len(r) == 1 for r in records.values())


def test_two_threads_of_one_worker_never_run_the_same_connection(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the soak: the lease let a process re-enter its own lease, so two huey threads
    ran one connection and a person's older write could land after a newer one."""
    with world(sqlite_url, tmp_path, "hubspot") as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        w.person("p1")
        w.unlock("org1", "p1", "u1")
        real_push = HubSpotConnector.push

        async def slow_push(
            self: HubSpotConnector, writes: Sequence[RecordWrite]
        ) -> list[WriteOutcome]:
            await asyncio.sleep(1.5)
            return await real_push(self, writes)

        monkeypatch.setattr(HubSpotConnector, "push", slow_push)
        first = threading.Thread(target=lambda: w.runner.run(w.connection().id))
        first.start()
        time.sleep(0.5)
        assert w.runner.run(w.connection().id).busy, "same process, second thread: must wait"
        first.join(timeout=30)
