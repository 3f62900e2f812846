"""The Close emulator's note activities: made on a lead, tied to one of its contacts, updated
in place; what Close refuses is answered with its 400 ``field-errors``, and nothing is kept."""

from __future__ import annotations

from typing import Any

import pytest

from tests.providers.close.test_close_emulator import Org


@pytest.fixture
def org() -> Org:
    instance = Org()
    instance.connect()
    return instance


def lead(org: Org, name: str = "Ada") -> tuple[str, str]:
    r = org.call("POST", "/lead/", json={"contacts": [{"name": name}]})
    assert r.status_code == 200, r.text
    return str(r.json()["id"]), str(r.json()["contacts"][0]["id"])


def test_a_note_on_a_lead_and_contact_is_read_back_and_updated(org: Org) -> None:
    lead_id, contact_id = lead(org)
    body = {
        "lead_id": lead_id,
        "contact_id": contact_id,
        "note": "Called\nabout pricing",
        "activity_at": "2026-12-04T10:00:00Z",
    }
    made = org.call("POST", "/activity/note/", json=body)
    assert made.status_code == 200, made.text
    note = made.json()
    assert (note["_type"], note["lead_id"], note["contact_id"]) == ("Note", lead_id, contact_id)
    assert note["note_html"] == "Called<br />about pricing"
    assert note["activity_at"].startswith("2026-12-04T10:00:00")
    put = org.call("PUT", f"/activity/note/{note['id']}/", json={"note": "Called twice"})
    assert put.status_code == 200, put.text
    read = org.call("GET", f"/activity/note/{note['id']}/").json()
    assert (read["note"], read["lead_id"]) == ("Called twice", lead_id)
    assert len(org.emulator.notes.notes) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": "no lead"}, "lead_id"),
        ({"lead_id": "lead_missing", "note": "x"}, "lead_id"),
        ({"note": "x", "subject": "not a note field"}, "subject"),
        ({"note": "x", "activity_at": "soon"}, "activity_at"),
        ({"note": "x", "contact_id": "cont_missing"}, "contact_id"),
    ],
)
def test_what_close_refuses_is_refused(org: Org, body: dict[str, Any], field: str) -> None:
    lead_id, _ = lead(org)
    sent = {"lead_id": lead_id, **body} if "lead_id" not in body and field != "lead_id" else body
    r = org.call("POST", "/activity/note/", json=sent)
    assert r.status_code == 400, r.text
    assert field in r.json()["field-errors"]
    assert org.emulator.notes.notes == {}


def test_a_contact_of_another_lead_or_an_unknown_note_is_refused(org: Org) -> None:
    lead_id, _ = lead(org, "Ada")
    _, other_contact = lead(org, "Grace")
    body = {"lead_id": lead_id, "contact_id": other_contact, "note": "x"}
    assert org.call("POST", "/activity/note/", json=body).status_code == 400
    missing = org.call("PUT", "/activity/note/acti_nope/", json={"note": "x"})
    assert missing.status_code == 404
    assert org.call("GET", "/activity/note/acti_nope/", params={"_fields": "id"}).status_code == 400
