"""Push triggers through the host API: the manual push, the score threshold, the to-do's owner,
and the unlock switched off; every refused request writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import OrgRecord, WorkItem
from tests.api.conftest import RowCounts
from tests.support.world import World

CONNECTION = "/api/v1/orgs/org1/connection"


def person_url(person_id: str, what: str, org_id: str = "org1") -> str:
    return f"/api/v1/orgs/{org_id}/people/{person_id}/{what}"


def queued(w: World) -> list[tuple[str, str]]:
    with w.rt.db.session() as session:
        items = session.scalars(select(WorkItem).order_by(WorkItem.local_id)).all()
        return [(item.local_id, item.lane) for item in items]


def patch(w: World, **body: Any) -> dict[str, Any]:
    r = w.api.patch(CONNECTION, json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def score(w: World, person_id: str, value: float) -> dict[str, Any]:
    r = w.api.put(person_url(person_id, "score"), json={"score": value})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


@pytest.fixture
def linked(team: World) -> World:
    """org1 connected; p1 unlocked by its member and in the CRM; p2 known to org2 only."""
    team.connect("org1")
    team.connect("org2")
    team.person("p1")
    team.person("p2")
    team.unlock("org1", "p1", "u-member")
    team.unlock("org2", "p2", "u-other")
    team.drain()
    return team


# -- manual push ------------------------------------------------------------------------------


def test_the_manual_push_queues_the_contact_live_and_it_lands(linked: World) -> None:
    linked.person("p1", title="Captain")  # a refresh, waiting
    r = linked.api.post(person_url("p1", "sync"))
    assert r.status_code == 202, r.text
    detail = "queued: the contact is sent to the CRM in a moment"
    assert r.json() == {"queued": True, "detail": detail}
    assert ("p1", "live") in queued(linked)
    linked.drain()
    [record] = linked.records_by_person()["p1"]
    assert record.values["title"] == "Captain"
    status = linked.api.get(person_url("p1", "sync")).json()
    assert status["queued"] is False and status["last_operation"]["lane"] == "live"


@pytest.mark.parametrize(
    ("org_id", "person_id", "message"),
    [
        ("nope", "p1", "organisation 'nope' does not exist"),
        ("org1", "p2", "person 'p2' does not exist in organisation 'org1'"),  # org2's person
        ("org1", "ghost", "person 'ghost' does not exist in organisation 'org1'"),
    ],
)
def test_the_manual_push_of_someone_the_org_does_not_have_is_404(
    linked: World, rows: RowCounts, org_id: str, person_id: str, message: str
) -> None:
    before = rows()
    r = linked.api.post(person_url(person_id, "sync", org_id))
    assert r.status_code == 404 and r.json()["detail"] == message
    assert rows() == before


# -- score -----------------------------------------------------------------------------------


def test_a_score_at_the_threshold_pushes_once_per_crossing(linked: World) -> None:
    patch(linked, push_on_unlock=False)
    linked.person("p3")
    linked.unlock("org1", "p3", "u-member")
    assert queued(linked) == []  # unlocks push nothing now
    assert patch(linked, push_score_threshold=70)["push"]["score_threshold"] == 70
    assert score(linked, "p3", 69.5)["queued"] is False
    done = score(linked, "p3", 70)
    assert done == {"queued": True, "detail": done["detail"]}
    assert "reached the threshold 70" in done["detail"]
    assert queued(linked) == [("p3", "live")]
    linked.drain()
    assert len(linked.records_by_person()["p3"]) == 1
    again = score(linked, "p3", 95)  # still above: not a crossing
    assert again["queued"] is False and "not pushed again" in again["detail"]
    assert queued(linked) == []
    assert score(linked, "p3", 10)["queued"] is False
    assert score(linked, "p3", 80)["queued"] is True  # crossed again
    patch(linked, push_score_threshold=None)
    assert linked.status()["push"]["score_threshold"] is None
    assert score(linked, "p3", 10)["queued"] is False
    off = score(linked, "p3", 99)
    assert off["queued"] is False and "no score threshold" in off["detail"]


@pytest.mark.parametrize(
    "body",
    [{}, {"score": "high"}, {"score": None}, {"score": 1, "extra": 2}, {"score": [1]}],
)
def test_a_bad_score_is_refused_and_writes_nothing(
    linked: World, rows: RowCounts, body: dict[str, Any]
) -> None:
    before = rows()
    r = linked.api.put(person_url("p1", "score"), json=body)
    assert r.status_code == 422, r.text
    assert rows() == before


def test_a_score_that_is_not_finite_is_refused(linked: World, rows: RowCounts) -> None:
    before = rows()
    r = linked.api.put(
        person_url("p1", "score"),
        content=b'{"score": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    r = linked.api.patch(
        CONNECTION,
        content=b'{"push_score_threshold": Infinity}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert rows() == before


def test_a_score_for_someone_the_org_does_not_have_is_404(linked: World, rows: RowCounts) -> None:
    before = rows()
    r = linked.api.put(person_url("p2", "score"), json={"score": 50})
    assert r.status_code == 404 and "person 'p2' does not exist" in r.text
    assert rows() == before


# -- to-do -------------------------------------------------------------------------------------


@pytest.fixture
def owners(linked: World) -> dict[str, str]:
    """The CRM knows both of org1's users; p1 was created owned by nobody the CRM knew."""
    member = linked.harness.add_user("member@acme.test", "Mo", "Member")
    with linked.rt.db.session() as session:  # the next run asks the CRM for its users again
        linked.connection_row(session).owners_fetched_at = None
    return {"admin": str(linked.crm_admin_id), "member": member}


def test_a_todo_pushes_the_contact_with_its_user_as_owner(
    linked: World, owners: dict[str, str]
) -> None:
    linked.person("p4")
    linked.unlock("org1", "p4", "u-member")
    linked.drain()
    [record] = linked.records_by_person()["p4"]
    assert record.owner_id == owners["member"]  # the first unlocker, at the create
    r = linked.api.put(person_url("p4", "todo"), json={"assigned_to": "u-admin"})
    assert r.status_code == 200, r.text
    assert r.json()["queued"] is True and "admin@acme.test owns the contact" in r.json()["detail"]
    assert queued(linked) == [("p4", "live")]
    writes = linked.harness.write_calls()
    linked.drain()
    [record] = linked.records_by_person()["p4"]
    assert record.owner_id == owners["admin"]  # written though the CRM owns the owner field
    assert linked.harness.write_calls() == writes + 1
    # sent again: nothing more to write
    r = linked.api.put(person_url("p4", "todo"), json={"assigned_to": "u-admin"})
    assert r.status_code == 200
    linked.drain()
    assert linked.harness.write_calls() == writes + 1
    assert linked.operations(person_id="p4")[0]["status"] == "unchanged"


def test_a_reassignment_in_the_crm_stands_after_a_todo(
    linked: World, owners: dict[str, str]
) -> None:
    linked.api.put(person_url("p1", "todo"), json={"assigned_to": "u-admin"})
    linked.drain()
    [record] = linked.records_by_person()["p1"]
    assert record.owner_id == owners["admin"]
    linked.harness.manual_edit(record.crm_id, "owner", owners["member"])
    linked.sync_back()
    linked.person("p1", title="Commodore")  # an app change: the CRM's owner is not undone
    linked.drain()
    [record] = linked.records_by_person()["p1"]
    assert record.owner_id == owners["member"] and record.values["title"] == "Commodore"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"assigned_to": "u-ghost"}, "user 'u-ghost' is not a member of organisation 'org1'"),
        ({"assigned_to": "u-other"}, "user 'u-other' is not a member of organisation 'org1'"),
    ],
)
def test_a_todo_for_an_unknown_user_is_422_naming_them(
    linked: World, rows: RowCounts, body: dict[str, Any], message: str
) -> None:
    before = rows()
    r = linked.api.put(person_url("p1", "todo"), json=body)
    assert r.status_code == 422, r.text
    assert message in r.text
    assert rows() == before


@pytest.mark.parametrize("body", [{}, {"assigned_to": ""}, {"assigned_to": "u-admin", "x": 1}])
def test_a_malformed_todo_is_refused(linked: World, rows: RowCounts, body: dict[str, Any]) -> None:
    before = rows()
    assert linked.api.put(person_url("p1", "todo"), json=body).status_code == 422
    assert rows() == before


# -- the unlock trigger and who may change the switches ---------------------------------------


def test_without_the_unlock_trigger_only_records_already_pushed_are_refreshed(
    linked: World,
) -> None:
    patch(linked, push_on_unlock=False)
    linked.person("p5")
    linked.unlock("org1", "p5", "u-member")
    linked.person("p5", title="Never pushed")
    linked.person("p1", title="In the CRM")
    assert queued(linked) == [("p1", "refresh")]
    linked.drain()
    assert "p5" not in linked.records_by_person()
    assert patch(linked, push_on_unlock=True)["push"]["on_unlock"] is True


def test_a_member_cannot_change_the_push_switches_and_an_admin_can(
    linked: World, rows: RowCounts
) -> None:
    admin = {"id": "u-boss", "email": "boss@acme.test", "role": "admin"}
    assert linked.api.post("/api/v1/orgs/org1/users", json=admin).status_code == 201
    before = rows()
    r = linked.api.patch(CONNECTION, json={"push_enabled": False, "changed_by": "u-member"})
    assert r.status_code == 403, r.text
    assert "'u-member' is a member" in r.json()["detail"]
    assert rows() == before and linked.status()["push"]["enabled"] is True
    r = linked.api.patch(CONNECTION, json={"push_enabled": False, "changed_by": "u-boss"})
    assert r.status_code == 200 and r.json()["push"]["enabled"] is False


@pytest.mark.parametrize(
    "body",
    [{"push_enabled": "maybe"}, {"push_on_unlock": None, "push_enabled": 3}, {"push": False}],
)
def test_bad_switches_are_refused_and_change_nothing(
    linked: World, rows: RowCounts, body: dict[str, Any]
) -> None:
    before = rows()
    assert linked.api.patch(CONNECTION, json=body).status_code == 422
    assert rows() == before
    assert linked.status()["push"] == {"enabled": True, "on_unlock": True, "score_threshold": None}


def test_a_score_before_the_first_read_leaves_the_owner_to_be_seeded(team: World) -> None:
    """A score starts the org's view of the record; its first read still takes the owner."""
    team.connect("org1")
    team.person("p6")
    team.unlock("org1", "p6", "u-admin")  # the CRM knows admin@acme.test
    assert score(team, "p6", 5)["queued"] is False
    team.drain()
    team.sync_back()
    with team.rt.db.session() as session:
        record = session.get_one(OrgRecord, ("org1", "contact", "p6"))
        assert (record.score, record.owner_user_id) == (5, "u-admin")
