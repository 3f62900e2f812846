"""Conversations exported to every CRM whose connector declares them: each lands once, linked
to its contact's record, is updated in place when posted again, goes after its contact (pushed
first when not in the CRM yet), and nothing is exported while the switch is off.

Read back from the emulator with the CRM's own field names (``HoldsConversations``)."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.domain.records import Capability
from crmsync.emulation.harness import CrmConversation, HoldsConversations
from tests.support.world import World


@pytest.fixture
def talks(team: World) -> World:
    """The team's org connected to a CRM that takes conversations, with them enabled."""
    connector = team.rt.provider(team.provider).connector
    if Capability.CONVERSATIONS not in connector.capabilities:
        pytest.skip(f"{team.provider} does not declare conversations")
    assert isinstance(team.harness, HoldsConversations)
    team.connect("org1")
    enable(team, True)
    return team


def enable(w: World, on: bool) -> dict[str, Any]:
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": on})
    assert r.status_code == 200, r.text
    assert r.json()["conversations_enabled"] is on
    result: dict[str, Any] = r.json()
    return result


def conversation(cid: str = "c1", person_id: str = "p1", **fields: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "person_id": person_id,
        "channel": "email",
        "direction": "inbound",
        "subject": "Pricing question",
        "body": "Can we get the annual plan?",
        "occurred_at": "2026-12-04T10:00:00Z",
        **fields,
    }


def post(w: World, *items: dict[str, Any]) -> dict[str, Any]:
    r = w.api.post("/api/v1/orgs/org1/conversations", json=list(items))
    assert r.status_code == 202, r.text
    result: dict[str, Any] = r.json()
    return result


def held(w: World) -> list[CrmConversation]:
    harness = w.harness
    assert isinstance(harness, HoldsConversations)
    return harness.conversations()


def contact_id(w: World, person_id: str) -> str:
    [record] = w.records_by_person()[person_id]
    return record.crm_id


def test_a_conversation_lands_once_linked_to_the_contacts_record(talks: World) -> None:
    talks.person("p1")
    talks.unlock("org1", "p1", "u-admin")
    talks.drain()
    assert post(talks, conversation())["created"] == 1
    talks.drain()
    [found] = held(talks)
    assert found.contact_id == contact_id(talks, "p1")
    assert "Pricing question" in found.text
    assert "Can we get the annual plan?" in found.text
    # its time where the CRM keeps one (HighLevel's notes keep none: it is in the text)
    assert "2026-12-04T10:00:00" in found.occurred_at + found.text
    ops = [op for op in talks.operations() if op["status"] == "inserted"]
    assert sorted(op["entity"] for op in ops) == ["contact", "conversation"], ops
    [logged] = [op for op in ops if op["entity"] == "conversation"]
    assert (logged["person_id"], logged["crm_id"]) == ("c1", found.crm_id)


def test_posting_again_updates_the_same_record_in_place(talks: World) -> None:
    talks.person("p1")
    talks.unlock("org1", "p1", "u-admin")
    post(talks, conversation())
    talks.drain()
    [first] = held(talks)
    assert post(talks, conversation(body="Annual plan, 40 seats."))["updated"] == 1
    talks.drain()
    [again] = held(talks)
    assert again.crm_id == first.crm_id
    assert "Annual plan, 40 seats." in again.text
    assert "Can we get the annual plan?" not in again.text
    writes = talks.harness.write_calls()
    assert post(talks, conversation(body="Annual plan, 40 seats."))["unchanged"] == 1
    talks.drain()
    assert talks.harness.write_calls() == writes, "an unchanged conversation is not sent"
    assert len(held(talks)) == 1


def test_a_contact_not_yet_in_the_crm_is_pushed_first(talks: World) -> None:
    talks.person("p9", first_name="Lin")
    assert talks.records_by_person() == {}
    assert post(talks, conversation(person_id="p9"))["contacts_queued"] == 1
    talks.drain()
    [found] = held(talks)
    assert found.contact_id == contact_id(talks, "p9")


def test_several_conversations_of_one_contact_are_separate_records(talks: World) -> None:
    talks.person("p1")
    post(
        talks,
        conversation("c1"),
        conversation("c2", channel="call", direction="outbound", subject="Follow-up"),
        conversation("c3", channel="note", subject="", body="Prefers mornings"),
    )
    talks.drain()
    found = held(talks)
    assert len(found) == 3
    assert {c.contact_id for c in found} == {contact_id(talks, "p1")}
    assert len({c.crm_id for c in found}) == 3


def test_with_conversations_disabled_nothing_is_exported(team: World) -> None:
    team.connect("org1")
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    writes = team.harness.write_calls()
    r = team.api.post("/api/v1/orgs/org1/conversations", json=conversation())
    assert r.status_code == 409, r.text
    assert "disabled" in r.json()["detail"]
    assert team.status()["conversations_enabled"] is False
    team.drain()
    assert team.harness.write_calls() == writes
    if isinstance(team.harness, HoldsConversations):
        assert team.harness.conversations() == []


def test_switching_off_holds_back_what_was_queued(talks: World) -> None:
    talks.person("p1")
    talks.unlock("org1", "p1", "u-admin")
    talks.drain()
    post(talks, conversation())
    enable(talks, False)
    talks.drain()
    assert held(talks) == []
    skipped = [op for op in talks.operations() if op["status"] == "skipped"]
    assert skipped and "disabled" in skipped[0]["reason"]


def test_a_conversation_whose_contact_the_crm_refuses_fails_and_is_not_exported(
    talks: World,
) -> None:
    if talks.harness.duplicate_email_outcome == "synced":
        pytest.skip(f"{talks.provider} takes a second record with the same email")
    talks.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "x@dup.test"})
    talks.person("p1", emails=["x@dup.test"])
    post(talks, conversation())
    talks.drain()
    assert held(talks) == []
    [failed] = [op for op in talks.operations() if op["entity"] == "conversation"]
    assert failed["status"] == "failed"
    assert "contact is not in the CRM" in failed["reason"]
    pushes = [op for op in talks.operations(person_id="p1") if op["entity"] == "contact"]
    assert len(pushes) == 1, "a contact the CRM refused is not pushed again for its conversation"
