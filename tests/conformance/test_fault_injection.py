"""No contact lost, none duplicated: the CRM fails in every way the emulators can, the
process dies mid-batch, and every unlocked person still ends up in the CRM exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from crmsync.db.tables import Connection, WorkItem, utcnow
from crmsync.engine import batch as batch_module
from tests.support.world import World

FAULTS = {"500": 0.1, "503": 0.1, "timeout_before": 0.1, "timeout_after": 0.15, "reset": 0.05}


def _people(w: World, count: int, prefix: str = "p") -> list[str]:
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for person_id in ids:
        w.person(person_id, title=f"Title {person_id}")
    return ids


def _assert_exactly_once(w: World, person_ids: list[str]) -> None:
    records = w.records_by_person()
    missing = [p for p in person_ids if p not in records]
    duplicated = [p for p, found in records.items() if len(found) > 1]
    assert not missing, f"lost: {missing}"
    assert not duplicated, f"duplicated: {duplicated}"
    assert w.status()["counts"]["pending"] == 0


def test_transient_faults_lose_and_duplicate_nothing(team: World) -> None:
    team.connect("org1")
    ids = _people(team, 60)
    team.harness.set_faults(FAULTS, seed=7)
    for person_id in ids:
        team.unlock("org1", person_id, "u-admin")
    team.drain(rounds=200)
    injected = team.harness.faults_injected()
    team.harness.set_faults({})
    assert sum(injected.values()) > 0, "the emulator injected no fault: the test proves nothing"
    team.drain()
    _assert_exactly_once(team, ids)
    statuses = {op["person_id"]: op["status"] for op in team.operations()}
    assert set(statuses.values()) <= {"inserted", "updated"}
    for record in team.harness.records():
        assert record.values["title"] == f"Title {record.person_id}"


def test_refreshes_under_faults_converge_to_the_latest_values(team: World) -> None:
    team.connect("org1")
    ids = _people(team, 20)
    for person_id in ids:
        team.unlock("org1", person_id, "u-admin")
    team.drain()
    team.harness.set_faults(FAULTS, seed=11)
    for person_id in ids:
        team.person(person_id, title=f"New {person_id}")
    team.drain(rounds=200)
    team.harness.set_faults({})
    team.drain()
    _assert_exactly_once(team, ids)
    assert {r.person_id: r.values["title"] for r in team.harness.records()} == {
        p: f"New {p}" for p in ids
    }


def test_a_worker_killed_after_the_crm_write_loses_nothing(
    team: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CRM committed the batch, then the process died before recording it."""
    team.connect("org1")
    ids = _people(team, 12)
    for person_id in ids:
        team.unlock("org1", person_id, "u-admin")

    class Killed(BaseException):
        pass

    plan_next = batch_module.BatchRecorder.record_and_plan

    def die(self: batch_module.BatchRecorder, outcomes: list[object], *claim: object) -> object:
        if outcomes:  # a request's outcomes are about to be recorded
            raise Killed
        return plan_next(self, outcomes, *claim)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module.BatchRecorder, "record", die)
    monkeypatch.setattr(batch_module.BatchRecorder, "record_and_plan", die)
    monkeypatch.setattr(batch_module.BatchRecorder, "abandon", lambda self: None)
    monkeypatch.setattr(batch_module.BatchRecorder, "pause", lambda self, *why: None)
    with pytest.raises(Killed):
        team.runner.run(team.connection().id)
    monkeypatch.undo()
    assert team.records_by_person(), "the CRM write should have landed before the kill"
    with team.rt.db.session() as session:  # the lease of the dead worker runs out
        session.execute(update(WorkItem).values(lease_until=utcnow()))
        session.execute(update(Connection).values(lease_owner=None, lease_until=None))
    team.drain()
    _assert_exactly_once(team, ids)


def test_rate_limit_bursts_are_waited_out_not_failed(team: World) -> None:
    team.connect("org1")
    ids = _people(team, 3)
    team.harness.set_faults({"429": 0.3}, seed=3)
    for person_id in ids:
        team.unlock("org1", person_id, "u-admin")
    team.drain(rounds=100)
    team.harness.set_faults({})
    team.drain()
    _assert_exactly_once(team, ids)
    assert {op["status"] for op in team.operations()} == {"inserted"}
