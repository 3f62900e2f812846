"""The HubSpot emulator's notes API: created with a note-to-contact association, read back with
it, updated in place; what HubSpot refuses is refused in its own error shape."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.hubspot.hubspot_portal import Portal

pytestmark = pytest.mark.anyio
NOTES = "/crm/v3/objects/notes"


def to_contact(contact_id: str, type_id: int = 202) -> dict[str, Any]:
    return {
        "to": {"id": contact_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


async def contact(portal: Portal) -> str:
    r = await portal.call("POST", "/crm/v3/objects/contacts", json={"properties": {}})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_note_is_made_on_the_contact_read_back_and_updated(portal: Portal) -> None:
    cid = await contact(portal)
    body = {
        "properties": {"hs_timestamp": "2026-12-04T10:00:00Z", "hs_note_body": "Called"},
        "associations": [to_contact(cid)],
    }
    made = await portal.call("POST", NOTES, json=body)
    assert made.status_code == 201, made.text
    note_id = made.json()["id"]
    read = await portal.call("GET", f"{NOTES}/{note_id}", params={"associations": "contacts"})
    assert read.json()["properties"]["hs_note_body"] == "Called"
    assert read.json()["associations"]["contacts"]["results"] == [
        {"id": cid, "type": "note_to_contact"}
    ]
    patched = await portal.call(
        "PATCH", f"{NOTES}/{note_id}", json={"properties": {"hs_note_body": "Called twice"}}
    )
    assert patched.status_code == 200, patched.text
    assert portal.emulator.notes.get(note_id).properties["hs_note_body"] == "Called twice"
    assert len(portal.emulator.notes.notes) == 1


@pytest.mark.parametrize(
    ("properties", "type_id", "message"),
    [
        ({"hs_note_body": "no time"}, 202, "hs_timestamp is required"),
        ({"hs_timestamp": "2026-12-04T10:00:00Z", "hs_body": "x"}, 202, "PROPERTY_DOESNT_EXIST"),
        ({"hs_timestamp": "tomorrow"}, 202, "INVALID_DATE"),
        ({"hs_timestamp": "2026-12-04T10:00:00Z"}, 1, "is not supported"),
    ],
)
async def test_what_hubspot_refuses_is_refused(
    portal: Portal, properties: dict[str, Any], type_id: int, message: str
) -> None:
    cid = await contact(portal)
    body = {"properties": properties, "associations": [to_contact(cid, type_id)]}
    r = await portal.call("POST", NOTES, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["category"] == "VALIDATION_ERROR"
    assert message in r.text
    assert portal.emulator.notes.notes == {}


async def test_a_note_on_no_contact_or_an_unknown_note_is_refused(portal: Portal) -> None:
    body = {"properties": {"hs_timestamp": "1"}, "associations": [to_contact("999")]}
    assert (await portal.call("POST", NOTES, json=body)).status_code == 400
    missing = await portal.call("PATCH", f"{NOTES}/42", json={"properties": {}})
    assert missing.status_code == 404
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"
    bad = await portal.call("GET", f"{NOTES}/42", params={"associations": "deals"})
    assert bad.status_code == 400
