"""How a run ends when the CRM fails before any write."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from crmsync.db.tables import WorkItem, naive_utc, utcnow
from tests.support.world import world


def test_a_crm_failing_the_setup_check_postpones_work_instead_of_hammering(
    sqlite_url: str, tmp_path: Path
) -> None:
    with world(
        sqlite_url, tmp_path, "hubspot", retry_base_seconds=30.0, retry_max_seconds=60.0
    ) as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        w.person("p1")
        w.unlock("org1", "p1", "u1")
        w.harness.set_faults({"500": 1.0})
        result = w.runner.run(w.connection().id)
        assert "server error" in result.stopped
        with w.rt.db.session() as session:
            [item] = session.scalars(select(WorkItem)).all()
        assert naive_utc(item.not_before) > naive_utc(utcnow() + timedelta(seconds=10))
        assert item.attempts == 0, "nothing was sent: no attempt is used up"
        w.harness.set_faults({})
        assert w.harness.records() == []


@pytest.mark.parametrize("raised_by", ["sqlalchemy", "driver"])
def test_recording_rolled_back_by_a_deadlock_runs_again_and_logs_each_write_once(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised_by: str
) -> None:
    """PostgreSQL breaks a deadlock between a host write and a worker by rolling one back
    (the fault soak saw it). When the victim is the worker recording a batch, that
    transaction runs again: one log row per write, nothing left in flight or queued. The
    error may come through SQLAlchemy or straight from the driver (``COPY`` is the
    driver's own)."""
    from sqlalchemy.exc import OperationalError

    from crmsync.db.tables import Link, Operation
    from crmsync.engine import batch

    class Deadlock(Exception):
        sqlstate = "40P01"

    original = batch.upsert_rows
    failures = []

    def flaky(session, model, rows, keys, changes):  # type: ignore[no-untyped-def]
        if model is Link and rows and not failures:
            failures.append(1)
            if raised_by == "driver":
                raise Deadlock("deadlock detected")
            raise OperationalError("INSERT INTO links ...", {}, Deadlock())
        return original(session, model, rows, keys, changes)

    monkeypatch.setattr(batch, "upsert_rows", flaky)
    with world(db_url, tmp_path, "hubspot") as w:
        w.org("org1", {"u1": "owner@acme.test"})
        w.connect("org1")
        for i in range(3):
            w.person(f"p{i}")
            w.unlock("org1", f"p{i}", "u1")
        w.drain()
        assert failures == [1]
        assert len(w.harness.records()) == 3
        with w.rt.db.session() as session:
            ops = list(session.scalars(select(Operation)))
            assert sorted(op.status for op in ops) == ["inserted"] * 3
            assert session.scalars(select(WorkItem)).all() == []
            assert all(link.crm_id for link in session.scalars(select(Link)))
