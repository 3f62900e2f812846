""" "Push: disabled": every push waits, queued, without disconnecting; reads back go on; switched
on again, the queue goes where it stopped and every contact lands once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from crmsync.db.tables import WorkItem
from tests.support.world import World

CONNECTION = "/api/v1/orgs/org1/connection"
PEOPLE = [f"p{n}" for n in range(1, 8)]


def switch(w: World, enabled: bool) -> dict[str, Any]:
    r = w.api.patch(CONNECTION, json={"push_enabled": enabled})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def pending(w: World) -> int:
    with w.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def test_nothing_is_pushed_while_disabled_and_nothing_is_lost(team: World) -> None:
    team.connect("org1")
    team.person("p0")
    team.unlock("org1", "p0", "u-admin")
    team.drain()
    state = switch(team, False)
    assert state["status"] == "connected" and state["push"]["enabled"] is False
    assert team.status()["push"]["enabled"] is False
    writes = team.harness.write_calls()
    for person_id in PEOPLE:
        team.person(person_id)
        team.unlock("org1", person_id, "u-member")
    team.person("p0", title="Changed while paused")
    r = team.api.post("/api/v1/orgs/org1/people/p1/sync")  # a manual push waits too
    assert r.status_code == 202 and "pushes are switched off" in r.json()["detail"]
    team.drain()
    for connection_id in set(team.kicks):  # a kicked run sends nothing either
        team.runner.run(connection_id, budget_seconds=5)
    assert team.harness.write_calls() == writes  # zero CRM write calls
    assert pending(team) == len(PEOPLE) + 1
    assert team.status()["queue"]["live"] == len(PEOPLE)
    team.sync_back()  # reading back goes on (our choice): the queue is untouched
    assert team.harness.write_calls() == writes and pending(team) == len(PEOPLE) + 1

    kicks = len(team.kicks)
    assert switch(team, True)["push"]["enabled"] is True
    assert team.kicks[kicks:] == [team.connection().id]  # resumed at once
    team.drain()
    assert pending(team) == 0
    landed = team.records_by_person()
    assert sorted(landed) == sorted(["p0", *PEOPLE])
    assert all(len(records) == 1 for records in landed.values())  # each contact once
    assert landed["p0"][0].values["title"] == "Changed while paused"
    created = [op for op in team.operations() if op["status"] == "inserted"]
    assert sorted(op["person_id"] for op in created) == sorted(["p0", *PEOPLE])


def test_switching_pushes_off_mid_run_claims_nothing_more(team: World) -> None:
    """The claim itself asks: a run already going sends what it holds and claims no more."""
    from datetime import timedelta

    from crmsync.engine import outbox

    team.connect("org1")
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    switch(team, False)
    with team.rt.db.session() as session:
        claimed = outbox.claim(session, team.connection().id, 10, timedelta(seconds=30))
    assert claimed == [] and pending(team) == 1
    switch(team, True)
    with team.rt.db.session() as session:
        claimed = outbox.claim(session, team.connection().id, 10, timedelta(seconds=30))
    assert [item.local_id for item in claimed] == ["p1"]


def test_switching_on_when_already_on_kicks_nothing(team: World) -> None:
    team.connect("org1")
    kicks = len(team.kicks)
    assert switch(team, True)["push"]["enabled"] is True
    assert team.kicks[kicks:] == []
