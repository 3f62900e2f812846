"""One org never sees, retries or changes another org's sync data through the API."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import WorkItem
from tests.support.world import World

RowCounts = Callable[[], dict[str, int]]


@pytest.fixture
def two(team: World) -> World:
    """org1 syncs a1 and the shared person; org2 syncs b1, the shared person and a failure."""
    team.connect("org1")
    team.connect("org2")
    team.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "dup@x.test"})
    for pid in ("a1", "b1", "shared"):
        team.person(pid)
    team.person("b-dup", emails=["dup@x.test"])
    team.unlock("org1", "a1", "u-admin")
    team.unlock("org1", "shared", "u-member")
    for pid in ("b1", "shared", "b-dup"):
        team.unlock("org2", pid, "u-other")
    team.drain()
    return team


def _failed_op_of_org2(w: World) -> int:
    [op] = w.operations("org2", status="failed")
    assert op["person_id"] == "b-dup"
    return int(op["id"])


def _work_items(w: World) -> int:
    with w.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def test_each_org_lists_only_its_own_operations(two: World) -> None:
    mine = two.operations("org1")
    theirs = two.operations("org2")
    assert sorted(op["person_id"] for op in mine) == ["a1", "shared"]
    assert sorted(op["person_id"] for op in theirs) == ["b-dup", "b1", "shared"]
    assert not {op["id"] for op in mine} & {op["id"] for op in theirs}
    assert two.operations("org1", person_id="b1") == []
    assert two.operations("org1", status="failed") == []
    paged: list[str] = []
    before_id = max(op["id"] for op in mine + theirs) + 1
    while page := two.operations("org1", limit=1, before_id=before_id):
        paged.append(page[0]["person_id"])
        before_id = page[0]["id"]
    assert sorted(paged) == ["a1", "shared"]


def test_retrying_another_orgs_operation_is_404_and_queues_nothing(
    two: World, rows: RowCounts
) -> None:
    op_id = _failed_op_of_org2(two)
    before = rows()
    r = two.api.post(f"/api/v1/orgs/org1/operations/{op_id}/retry")
    assert r.status_code == 404
    assert r.json()["detail"] == f"operation {op_id} does not exist in organisation 'org1'"
    assert rows() == before
    assert two.api.post(f"/api/v1/orgs/org2/operations/{op_id}/retry").status_code == 202


def test_retry_failed_of_one_org_leaves_the_other_orgs_failures_alone(two: World) -> None:
    _failed_op_of_org2(two)
    r = two.api.post("/api/v1/orgs/org1/operations/retry-failed")
    assert r.status_code == 202
    assert r.json()["detail"] == "0 failed operations queued for retry"
    assert _work_items(two) == 0


def test_person_sync_of_a_person_only_another_org_unlocked_is_404(two: World) -> None:
    r = two.api.get("/api/v1/orgs/org1/people/b1/sync")
    assert r.status_code == 404
    assert r.json()["detail"] == "person 'b1' is not synced for organisation 'org1'"
    assert two.api.get("/api/v1/orgs/org2/people/b1/sync").status_code == 200


def test_a_person_both_orgs_sync_shows_each_org_its_own_state(two: World) -> None:
    mine = two.api.get("/api/v1/orgs/org1/people/shared/sync").json()
    theirs = two.api.get("/api/v1/orgs/org2/people/shared/sync").json()
    org1_ops = {op["id"] for op in two.operations("org1", person_id="shared")}
    org2_ops = {op["id"] for op in two.operations("org2", person_id="shared")}
    assert mine["last_operation"]["id"] in org1_ops
    assert theirs["last_operation"]["id"] in org2_ops


def test_connection_routes_show_and_change_only_the_callers_connection(two: World) -> None:
    org1, org2 = two.status("org1"), two.status("org2")
    assert org1["org_id"] == "org1"
    assert org2["org_id"] == "org2"
    assert org1["id"] != org2["id"]
    assert org1["counts"]["synced"] == 2
    assert org2["counts"]["synced"] == 2
    assert org2["counts"]["failed"] == 1
    assert org1["counts"]["failed"] == 0
    r = two.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    assert r.json()["preserve_manual_edits"] is True
    assert two.status("org2")["preserve_manual_edits"] is False


def test_disconnecting_one_org_keeps_the_other_org_syncing(two: World) -> None:
    two.unlock("org2", "a1", "u-other")  # org2 has queued work for a1
    assert two.api.delete("/api/v1/orgs/org1/connection").status_code == 200
    assert two.api.get("/api/v1/orgs/org1/connection").status_code == 404
    status = two.status("org2")
    assert status["status"] == "connected"
    assert status["counts"]["pending"] == 1
    two.drain()
    [op] = two.operations("org2", person_id="a1")
    assert op["status"] in ("inserted", "updated")
    assert two.status("org2")["counts"]["pending"] == 0


def test_a_batch_refresh_queues_each_person_only_for_the_orgs_that_unlocked_them(
    two: World,
) -> None:
    changed = [
        {"person_id": pid, "first_name": "Ada", "title": "Changed"}
        for pid in ("a1", "b1", "shared")
    ]
    r = two.api.put("/api/v1/people", json=changed)
    assert r.status_code == 200, r.text
    assert (r.json()["changed"], r.json()["queued"]) == (3, 4)
    org_of = {two.connection(org).id: org for org in ("org1", "org2")}
    with two.rt.db.session() as session:
        pending = sorted(
            (org_of[item.connection_id], item.local_id)
            for item in session.scalars(select(WorkItem).where(WorkItem.status == "pending"))
        )
    assert pending == [("org1", "a1"), ("org1", "shared"), ("org2", "b1"), ("org2", "shared")]
