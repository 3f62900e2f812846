"""How a run ends when the CRM fails before any write."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

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
