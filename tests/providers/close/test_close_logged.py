"""Calls, emails, meetings, notes and tasks in the Close emulator, their event-log entries and
what a lead merge or delete does to them, driven with Close's official client (only its base
URL changed); expected values read back with Close's own field names."""

from __future__ import annotations

from typing import Any

import pytest
from closeio_api import APIError, ValidationError

from crmsync.providers.close.emulator.harness_objects import CloseObjects
from tests.providers.close.test_close_sdk import Served, served

__all__ = ["served"]
START = "2026-12-04T10:00:00+00:00"


@pytest.fixture
def objects(served: Served) -> CloseObjects:
    return CloseObjects(served.emulator)


def _lead(served: Served, name: str = "Ada") -> tuple[str, str]:
    lead = served.api.post("lead", data={"name": f"{name} Co", "contacts": [{"name": name}]})
    return str(lead["id"]), str(lead["contacts"][0]["id"])


def _events(served: Served, **params: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = served.api.get("event", params=params)["data"]
    return found


def test_calls_emails_and_tasks_are_made_read_updated_and_deleted(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, contact_id = _lead(served)
    call = served.api.post(
        "activity/call",
        data={
            "lead_id": lead_id,
            "contact_id": contact_id,
            "direction": "inbound",
            "duration": 95,
            "phone": "+15550100",
            "note": "Asked\nfor a quote",
        },
    )
    assert (call["_type"], call["status"], call["note_html"]) == (
        "Call",
        "completed",
        "Asked<br />for a quote",
    )
    email = served.api.post(
        "activity/email",
        data={
            "lead_id": lead_id,
            "status": "sent",
            "subject": "Quote",
            "body_text": "Attached",
            "sender": "rep@example.com",
            "to": ["ada@example.com"],
        },
    )
    assert (email["_type"], email["direction"], email["to"]) == (
        "Email",
        "outgoing",
        ["ada@example.com"],
    )
    task = served.api.post(
        "task", data={"lead_id": lead_id, "text": "Follow up", "date": "2026-12-10"}
    )
    assert (task["_type"], task["is_complete"]) == ("lead", False)
    assert task["assigned_to"] == served.emulator.store.admin.id
    done = served.api.put(f"task/{task['id']}", data={"is_complete": True})
    assert done["is_complete"] and done["text"] == "Follow up"
    assert served.api.get(f"activity/call/{call['id']}")["duration"] == 95
    served.api.put(f"activity/call/{call['id']}", data={"duration": 120})
    assert [a["duration"] for a in objects.activities(lead_id) if a["_type"] == "Call"] == [120]
    assert served.api.get("task", params={"lead_id": lead_id, "is_complete": "true"})["data"]
    served.api.delete(f"activity/email/{email['id']}")
    assert [a["_type"] for a in objects.activities(lead_id)] == ["Call"]
    with pytest.raises(APIError) as caught:
        served.api.get(f"activity/email/{email['id']}")
    assert caught.value.response.status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("activity/call", {"duration": 5}, "lead_id"),
        ("activity/call", {"lead_id": "lead_missing"}, "lead_id"),
        ("activity/call", {"direction": "sideways"}, "direction"),
        ("activity/call", {"duration": -3}, "duration"),
        ("activity/call", {"duration": 1.5}, "duration"),
        ("activity/call", {"status": "maybe"}, "status"),
        ("activity/call", {"contact_id": "cont_missing"}, "contact_id"),
        ("activity/call", {"activity_at": "soon"}, "activity_at"),
        ("activity/call", {"user_id": "user_stranger"}, "user_id"),
        ("activity/call", {"subject": "calls have none"}, "subject"),
        ("activity/call", {"recording_url": "http://x.example/r.mp3"}, "recording_url"),
        ("activity/email", {"subject": "x"}, "status"),
        ("activity/email", {"status": "lost"}, "status"),
        ("activity/email", {"status": "sent", "direction": "inbound"}, "direction"),
        ("activity/email", {"status": "sent", "to": "ada@example.com"}, "to"),
        ("activity/email", {"status": "sent", "custom.cf_x": "y"}, "custom.cf_x"),
        ("activity/email", {"status": "inbox", "subject": "no sender"}, "sender"),
        ("activity/email", {"status": "outbox", "to": ["a@b.co"]}, "sender"),
        ("activity/email", {"status": "scheduled", "sender": "r@b.co"}, "date_scheduled"),
        ("task", {"lead_id": None, "text": "x"}, "lead_id"),
        ("task", {"date": "2026-12-10"}, "text"),
        ("task", {"text": "x", "date": "someday"}, "date"),
        ("task", {"text": "x", "is_complete": "yes"}, "is_complete"),
        ("task", {"text": "x", "assigned_to": "user_stranger"}, "assigned_to"),
        ("task", {"text": "x", "contact_id": "cont_any"}, "contact_id"),
    ],
)
def test_what_close_refuses_is_refused_and_nothing_is_kept(
    served: Served, objects: CloseObjects, path: str, body: dict[str, Any], field: str
) -> None:
    lead_id, _ = _lead(served)
    sent = body if "lead_id" in body or field == "lead_id" else {"lead_id": lead_id, **body}
    with pytest.raises(ValidationError) as caught:
        served.api.post(path, data=sent)
    assert field in caught.value.field_errors
    assert objects.activities() == [] and objects.tasks() == []


def test_a_contact_of_another_lead_is_refused(served: Served, objects: CloseObjects) -> None:
    lead_id, _ = _lead(served, "Ada")
    _, other = _lead(served, "Grace")
    with pytest.raises(ValidationError) as caught:
        served.api.post("activity/call", data={"lead_id": lead_id, "contact_id": other})
    assert "contact_id" in caught.value.field_errors
    assert objects.activities() == []


def test_meetings_come_from_calendar_sync_not_from_the_api(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, _ = _lead(served)
    with pytest.raises(APIError) as caught:
        served.api.post("activity/meeting", data={"lead_id": lead_id, "title": "Demo"})
    assert caught.value.response.status_code == 405
    meeting = objects.seed_meeting(
        {
            "lead_id": lead_id,
            "title": "Demo",
            "starts_at": START,
            "ends_at": "2026-12-04T10:30:00+00:00",
            "attendees": [{"email": "ada@example.com"}],
        }
    )
    assert served.api.get(f"activity/meeting/{meeting['id']}")["title"] == "Demo"
    assert (
        served.api.put(f"activity/meeting/{meeting['id']}", data={"note": "Went well"})["note"]
        == "Went well"
    )
    with pytest.raises(ValidationError) as refused:
        served.api.put(f"activity/meeting/{meeting['id']}", data={"starts_at": START})
    assert "starts_at" in refused.value.field_errors


def test_the_activity_list_holds_every_kind_with_its_type(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, _ = _lead(served)
    objects.seed_call({"lead_id": lead_id})
    objects.seed_email(
        {"lead_id": lead_id, "status": "inbox", "direction": "incoming", "sender": "a@b.co"}
    )
    objects.seed_meeting({"lead_id": lead_id, "title": "Demo", "starts_at": START})
    served.api.post("activity/note", data={"lead_id": lead_id, "note": "Hello"})
    objects.seed_task({"lead_id": lead_id, "text": "Call back"})
    listed = served.api.get("activity", params={"lead_id": lead_id})["data"]
    assert sorted(a["_type"] for a in listed) == ["Call", "Created", "Email", "Meeting", "Note"]
    calls = served.api.get("activity", params={"lead_id": lead_id, "_type": "Call"})["data"]
    assert [a["_type"] for a in calls] == ["Call"]
    assert served.refused("activity/call", {"status": "completed"}).field_errors


def test_each_write_is_an_event_with_what_changed(served: Served, objects: CloseObjects) -> None:
    lead_id, _ = _lead(served)
    call = served.api.post("activity/call", data={"lead_id": lead_id, "duration": 10})
    served.api.put(f"activity/call/{call['id']}", data={"duration": 30})
    served.api.delete(f"activity/call/{call['id']}")
    events = _events(served, object_type="activity.call")
    assert [e["action"] for e in events] == ["deleted", "updated", "created"]
    updated = events[1]
    assert updated["changed_fields"] == ["duration"]
    assert (updated["previous_data"], updated["data"]["duration"]) == ({"duration": 10}, 30)
    assert updated["lead_id"] == lead_id
    opportunity = served.api.post("opportunity", data={"lead_id": lead_id, "value": 100})
    served.api.put(f"opportunity/{opportunity['id']}", data={"value": 300})
    opportunity_events = _events(served, object_type="opportunity")
    assert [e["action"] for e in opportunity_events] == ["updated", "created"]
    assert opportunity_events[0]["previous_data"]["value"] == 100
    served.api.post("task", data={"lead_id": lead_id, "text": "x"})
    note = served.api.post("activity/note", data={"lead_id": lead_id, "note": "a"})
    served.api.put(f"activity/note/{note['id']}", data={"note": "b"})
    assert [e["action"] for e in _events(served, object_type="task.lead")] == ["created"]
    note_events = _events(served, object_type="activity.note")
    assert [e["action"] for e in note_events] == ["updated", "created"]
    assert "note" in note_events[0]["changed_fields"]


def test_a_merge_moves_opportunities_activities_and_tasks_to_the_destination(
    served: Served, objects: CloseObjects
) -> None:
    source, _ = _lead(served, "Ada")
    destination, _ = _lead(served, "Ada Lovelace")
    opportunity = objects.seed_opportunity({"lead_id": source, "value": 700})
    call = objects.seed_call({"lead_id": source})
    task = objects.seed_task({"lead_id": source, "text": "x"})
    note = objects.seed_note({"lead_id": source, "note": "hi"})
    served.api.post("lead/merge", data={"source": source, "destination": destination})
    assert [o["id"] for o in objects.opportunities(destination)] == [opportunity["id"]]
    assert {a["id"] for a in objects.activities(destination)} == {call["id"], note["id"]}
    assert [t["id"] for t in objects.tasks(destination)] == [task["id"]]
    assert objects.opportunities(source) == [] and objects.activities(source) == []
    moved = _events(served, object_type="opportunity", action="updated")
    assert moved[0]["changed_fields"] == ["lead_id"]
    assert moved[0]["previous_data"] == {"lead_id": source}
    for object_type in ("activity.call", "task.lead", "activity.note"):
        assert _events(served, object_type=object_type, action="updated"), object_type


def test_deleting_a_lead_deletes_what_is_on_it(served: Served, objects: CloseObjects) -> None:
    lead_id, _ = _lead(served)
    objects.seed_opportunity({"lead_id": lead_id})
    objects.seed_call({"lead_id": lead_id})
    objects.seed_task({"lead_id": lead_id, "text": "x"})
    objects.seed_note({"lead_id": lead_id, "note": "x"})
    served.api.delete(f"lead/{lead_id}")
    assert objects.opportunities() == [] and objects.activities() == [] and objects.tasks() == []
    assert _events(served, object_type="opportunity", action="deleted")
    assert _events(served, object_type="activity.note", action="deleted")


def test_an_activity_does_not_move_by_put_and_unknown_list_filters_are_refused(
    served: Served, objects: CloseObjects
) -> None:
    lead_id, _ = _lead(served, "Ada")
    other, _ = _lead(served, "Grace")
    call = objects.seed_call({"lead_id": lead_id, "duration": 4})
    with pytest.raises(ValidationError) as caught:
        served.api.put(f"activity/call/{call['id']}", data={"lead_id": other, "duration": 9})
    assert "lead_id" in caught.value.field_errors
    assert objects.activities()[0]["duration"] == 4
    assert served.refused("task", {"text": "x"}).field_errors
    assert served.refused("task", {"is_complete": "maybe"}).field_errors
    assert served.refused("task", {"_type": "outgoing_call"}).field_errors


def test_only_a_draft_email_can_be_modified(served: Served, objects: CloseObjects) -> None:
    lead_id, _ = _lead(served)
    sent = objects.seed_email({"lead_id": lead_id, "status": "sent", "subject": "Hi"})
    with pytest.raises(ValidationError) as caught:
        served.api.put(f"activity/email/{sent['id']}", data={"subject": "Changed"})
    assert "status" in caught.value.field_errors
    assert objects.activities()[0]["subject"] == "Hi"
    draft = objects.seed_email({"lead_id": lead_id, "status": "draft", "subject": "Draft"})
    scheduled = served.api.put(
        f"activity/email/{draft['id']}",
        data={
            "status": "scheduled",
            "sender": "rep@example.com",
            "date_scheduled": "2026-12-05T09:00:00+00:00",
        },
    )
    assert scheduled["status"] == "scheduled"
    back = served.api.put(f"activity/email/{draft['id']}", data={"status": "draft"})
    assert back["status"] == "draft"
