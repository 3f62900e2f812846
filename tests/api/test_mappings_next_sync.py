"""A saved mapping is the one the next sync uses, end to end against the HubSpot emulator:
a field whose canonical system changed follows its new owner, a field moved to another CRM
field is written there at the record's next change, and a newly mapped CRM-owned field is
taken for every record by a full sync. The CRM's records are read with HubSpot's own property
names, never through the mapping."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import Change
from tests.support.mappings import current, declare, hubspot, hubspot_property, put, row
from tests.support.world import World


@pytest.fixture
def linked(team: World) -> World:
    team.connect("org1")
    team.person("p1", first_name="Grace", last_name="Hopper", title="Admiral")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    team.sync_back()
    assert changes(team) == []
    return team


def changes(w: World) -> list[dict[str, Any]]:
    with w.rt.db.session() as session:
        rows = session.scalars(select(Change).order_by(Change.seq))
        return [{"kind": c.kind, "record_id": c.record_id, "fields": c.fields} for c in rows]


def contact(w: World, person_id: str) -> tuple[str, dict[str, str]]:
    """The HubSpot contact holding ``person_id``: its id and its properties."""
    (found,) = hubspot(w).emulator.store.find(acme_person_id=person_id)
    return found.id, dict(found.properties)


def edit_in_hubspot(w: World, crm_id: str, **properties: str) -> None:
    hubspot(w).emulator.store.update(crm_id, properties, manual=True)


def save(w: World, fields: list[dict[str, Any]]) -> dict[str, Any]:
    r = put(w, fields)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_title_made_crm_owned_takes_the_crms_edit_instead_of_reverting_it(
    linked: World,
) -> None:
    crm_id, _ = contact(linked, "p1")
    edit_in_hubspot(linked, crm_id, jobtitle="Pirate")
    linked.sync_back()
    assert contact(linked, "p1")[1]["jobtitle"] == "Admiral", "the app owns it: put back"
    assert changes(linked) == []
    fields = current(linked)
    row(fields, "title")["canonical"] = "crm"
    save(linked, fields)
    edit_in_hubspot(linked, crm_id, jobtitle="Rear Admiral")
    linked.sync_back()
    assert contact(linked, "p1")[1]["jobtitle"] == "Rear Admiral", "the CRM owns it now: kept"
    assert changes(linked) == [
        {"kind": "updated", "record_id": "p1", "fields": {"title": "Rear Admiral"}}
    ]
    linked.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    linked.drain()
    assert contact(linked, "p1")[1]["jobtitle"] == "Rear Admiral", "the app's title is not sent"


def test_a_title_moved_to_another_field_is_written_there_at_the_records_next_change(
    linked: World,
) -> None:
    hubspot_property(linked, "acme_headline", "string", "text")
    fields = current(linked)
    row(fields, "title")["crm_field"] = "acme_headline"
    writes = linked.harness.write_calls()
    save(linked, fields)
    linked.drain()
    assert linked.harness.write_calls() == writes, "no record is rewritten by the save"
    assert "acme_headline" not in contact(linked, "p1")[1]
    linked.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    linked.drain()
    _, properties = contact(linked, "p1")
    assert properties["acme_headline"] == "Commodore"
    assert properties["jobtitle"] == "Admiral", "the old field keeps its value"


def test_a_newly_mapped_crm_field_reaches_the_app_for_every_record_with_a_full_sync(
    linked: World,
) -> None:
    hubspot_property(linked, "acme_rating", "enumeration", "select", ("Hot", "Cold"))
    crm_id, _ = contact(linked, "p1")
    edit_in_hubspot(linked, crm_id, acme_rating="Hot")
    linked.sync_back()  # not mapped yet: read past, nothing taken
    assert changes(linked) == []
    rating = {"name": "rating", "label": "Rating", "type": "picklist", "options": ["Hot", "Cold"]}
    assert declare(linked, rating).status_code == 200
    body = save(
        linked,
        [*current(linked), {"app_field": "rating", "crm_field": "acme_rating", "canonical": "crm"}],
    )
    assert [c["change"] for c in body["changes"]] == ["added"]
    linked.sync_back()
    assert changes(linked) == [], "no change in the CRM since the cursor: nothing read"
    linked.sync_back(full=True)
    assert changes(linked) == [{"kind": "updated", "record_id": "p1", "fields": {"rating": "Hot"}}]
    r = linked.api.get("/api/v1/orgs/org1/records/contact/p1")
    assert r.status_code == 200, r.text
    assert (r.json()["fields"]["rating"]["value"], r.json()["fields"]["rating"]["owner"]) == (
        "Hot",
        "hubspot",
    )
