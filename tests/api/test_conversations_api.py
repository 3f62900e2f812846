"""``POST /api/v1/orgs/{org}/conversations`` and the connection's conversations switch: what
is accepted, what is refused (and that a refusal writes nothing), idempotence by id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import Conversation, WorkItem
from crmsync.domain.keys import CONTACT, CONVERSATION
from tests.api.conftest import RowCounts
from tests.support.fake_connector import fake_world
from tests.support.world import World

URL = "/api/v1/orgs/org1/conversations"


def item(cid: str = "c1", **fields: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "person_id": "p1",
        "channel": "call",
        "direction": "outbound",
        "subject": "Intro call",
        "body": "Talked pricing.",
        "occurred_at": "2026-12-04T09:30:00+01:00",
        **fields,
    }


@pytest.fixture
def ready(team: World) -> World:
    team.connect("org1")
    r = team.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": True})
    assert r.status_code == 200, r.text
    team.person("p1")
    team.person("p2")
    return team


def stored(w: World) -> dict[str, Conversation]:
    with w.rt.db.session() as session:
        rows = list(session.scalars(select(Conversation)))
        session.expunge_all()
    return {row.id: row for row in rows}


def queued(w: World, object_type: str) -> list[str]:
    with w.rt.db.session() as session:
        return sorted(
            session.scalars(select(WorkItem.local_id).where(WorkItem.object_type == object_type))
        )


def test_the_switch_is_off_by_default_and_shown(team: World) -> None:
    status = team.connect("org1")
    assert status["conversations_enabled"] is False
    r = team.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": True})
    assert r.status_code == 200, r.text
    assert team.status()["conversations_enabled"] is True
    r = team.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": "yes"})
    assert r.status_code == 422
    assert team.status()["conversations_enabled"] is True


def test_one_conversation_is_recorded_and_queued_with_its_contact(ready: World) -> None:
    r = ready.api.post(URL, json=item())
    assert r.status_code == 202, r.text
    assert r.json() == {
        "accepted": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "contacts_queued": 1,
    }
    row = stored(ready)["c1"]
    assert (row.person_id, row.channel, row.direction) == ("p1", "call", "outbound")
    assert row.occurred_at.replace(tzinfo=None).isoformat() == "2026-12-04T08:30:00"
    assert queued(ready, CONVERSATION) == ["c1"]
    assert queued(ready, CONTACT) == ["p1"]
    assert ready.kicks


def test_posting_the_same_id_again_updates_never_duplicates(ready: World) -> None:
    assert ready.api.post(URL, json=[item()]).json()["created"] == 1
    again = ready.api.post(URL, json=[item()])
    assert again.json()["unchanged"] == 1
    changed = ready.api.post(URL, json=[item(body="Talked pricing and seats.")])
    assert changed.json()["updated"] == 1
    rows = stored(ready)
    assert list(rows) == ["c1"]
    assert rows["c1"].body == "Talked pricing and seats."


def test_a_batch_is_taken_whole(ready: World) -> None:
    r = ready.api.post(URL, json=[item("c1"), item("c2", person_id="p2"), item("c3")])
    assert r.status_code == 202, r.text
    assert r.json()["created"] == 3
    assert sorted(stored(ready)) == ["c1", "c2", "c3"]


@pytest.mark.parametrize(
    "body",
    [
        item(channel="fax"),
        item(direction="sideways"),
        item(occurred_at="2026-12-04T09:30:00"),  # no UTC offset
        item(occurred_at="yesterday"),
        item(id=""),
        item(id="has space"),
        item(extra="field"),
        item(body="x" * 65_001),
        {k: v for k, v in item().items() if k != "occurred_at"},
        {k: v for k, v in item().items() if k != "person_id"},
        [],
        [item("c1"), item("c1")],  # one id twice
        [item(f"c{i}") for i in range(1001)],
    ],
)
def test_bad_input_is_refused_and_writes_nothing(ready: World, rows: RowCounts, body: Any) -> None:
    before = rows()
    r = ready.api.post(URL, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]
    assert rows() == before


def test_unknown_org_or_person_is_404_and_writes_nothing(ready: World, rows: RowCounts) -> None:
    before = rows()
    r = ready.api.post("/api/v1/orgs/nope/conversations", json=item())
    assert r.status_code == 404, r.text
    r = ready.api.post(URL, json=[item("c1"), item("c2", person_id="ghost")])
    assert r.status_code == 404, r.text
    assert "ghost" in r.json()["detail"]
    assert rows() == before


def test_disabled_or_unconnected_is_409_with_the_reason(team: World, rows: RowCounts) -> None:
    team.person("p1")
    before = rows()
    r = team.api.post(URL, json=item())
    assert r.status_code == 409, r.text
    assert "no CRM connection" in r.json()["detail"]
    team.connect("org1")
    before = rows()
    r = team.api.post(URL, json=item())
    assert r.status_code == 409, r.text
    assert "disabled" in r.json()["detail"]
    assert "conversations_enabled" in r.json()["detail"]
    assert rows() == before


def test_a_conversation_cannot_move_to_another_person(ready: World, rows: RowCounts) -> None:
    ready.api.post(URL, json=item())
    before = rows()
    r = ready.api.post(URL, json=item(person_id="p2"))
    assert r.status_code == 409, r.text
    assert rows() == before
    assert stored(ready)["c1"].person_id == "p1"


def test_another_orgs_conversations_are_its_own(ready: World) -> None:
    """Ids are per organisation: org2 (not connected) cannot reach org1's."""
    r = ready.api.post("/api/v1/orgs/org2/conversations", json=item())
    assert r.status_code == 409, r.text
    assert list(stored(ready)) == []


def test_a_crm_without_conversations_refuses_the_switch(db_url: str, tmp_path: Path) -> None:
    with fake_world(db_url, tmp_path) as w:
        w.org("org1", {"u-admin": "admin@acme.test"})
        w.connect("org1")
        r = w.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": True})
        assert r.status_code == 409, r.text
        assert "does not support" in r.json()["detail"]
        assert w.status()["conversations_enabled"] is False
