"""The connection's mappings through the host API: what a GET shows, what a PUT refuses (each
rule with its message, the whole set refused and nothing changed), who may change them, and
what a saved change says the next sync will do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.mappings import (
    MAPPINGS,
    current,
    declare,
    hubspot_property,
    put,
    row,
    stored,
)
from tests.support.world import World

Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture
def linked(team: World) -> World:
    """org1 connected to HubSpot, with custom properties of each kind and custom app fields."""
    team.connect("org1")
    team.person("p1", title="Admiral")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    hubspot_property(team, "acme_score", "number", "number")
    hubspot_property(team, "acme_since", "date", "date")
    hubspot_property(team, "acme_rating", "enumeration", "select", ("Hot", "Warm", "Cold"))
    hubspot_property(team, "acme_tags", "enumeration", "checkbox", ("vip", "partner"))
    r = declare(
        team,
        {"name": "score", "label": "Score", "type": "number"},
        {"name": "since", "label": "Customer since", "type": "date"},
        {"name": "rating", "label": "Rating", "type": "picklist", "options": ["Hot", "Cold"]},
        {"name": "tiers", "label": "Tiers", "type": "picklist", "options": ["Hot", "Lukewarm"]},
        {"name": "tags", "label": "Tags", "type": "multi_picklist", "options": ["vip"]},
    )
    assert r.status_code == 200, r.text
    return team


def crm(app_field: str, crm_field: str) -> dict[str, Any]:
    return {"app_field": app_field, "crm_field": crm_field, "canonical": "crm"}


def test_the_default_mappings_show_the_fixed_id_rows_and_each_canonical_system(
    linked: World,
) -> None:
    r = linked.api.get(MAPPINGS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider"] == "hubspot" and body["crm_fields_checked"] is True
    (contact,) = body["objects"]
    assert (contact["local_object"], contact["crm_object"]) == ("contact", "contacts")
    fields = {f["app_field"]: f for f in contact["fields"]}
    assert list(fields)[:2] == ["person_id", "crm_record_id"]
    assert fields["person_id"] | {} == {
        "app_field": "person_id",
        "crm_field": "acme_person_id",
        "canonical": "app",
        "kind": "key",
        "identity": True,
        "fixed": True,
        "custom_in_crm": None,
    }
    assert (fields["crm_record_id"]["crm_field"], fields["crm_record_id"]["canonical"]) == (
        "hs_object_id",
        "crm",
    )
    assert fields["crm_record_id"]["fixed"] is True
    assert (fields["title"]["crm_field"], fields["title"]["canonical"]) == ("jobtitle", "app")
    assert fields["owner"]["canonical"] == "crm", "HubSpot's default: the CRM owns the owner"
    assert "emails" not in fields, "a default the CRM has no place for is not a mapping"


def test_saving_the_same_set_changes_nothing_and_says_so(linked: World) -> None:
    before = stored(linked)
    r = put(linked, current(linked))
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == []
    assert r.json()["summary"] == "Saved: nothing changed."
    assert [s for s in stored(linked) if len(s) > 3] == [s for s in before if len(s) > 3]


def _drop(app_field: str) -> Edit:
    return lambda fields: [f for f in fields if f["app_field"] != app_field]


def _set(app_field: str, **values: Any) -> Edit:
    return lambda fields: [f | values if f["app_field"] == app_field else f for f in fields]


def _add(*rows: dict[str, Any]) -> Edit:
    return lambda fields: [*fields, *rows]


REFUSED: list[tuple[str, Edit, str]] = [
    (
        "person_id_removed",
        _drop("person_id"),
        "the Person ID mapping (person_id → acme_person_id) is required and cannot be removed",
    ),
    (
        "record_id_removed",
        _drop("crm_record_id"),
        "the CRM record id mapping (crm_record_id → hs_object_id) is required",
    ),
    (
        "person_id_moved",
        _set("person_id", crm_field="acme_linkedin_url"),
        "person_id maps to 'acme_person_id', the field crmsync matches records by; "
        "it cannot change",
    ),
    (
        "person_id_owned_by_the_crm",
        _set("person_id", canonical="crm"),
        "the canonical system of person_id is 'app'",
    ),
    (
        "several_values",
        _add({"app_field": "emails", "crm_field": "acme_score", "canonical": "app"}),
        "'emails' holds several values; a CRM field holds one (map email instead)",
    ),
    (
        "unknown_app_field",
        _add({"app_field": "shoe_size", "crm_field": "acme_score", "canonical": "app"}),
        "there is no app field 'shoe_size'",
    ),
    (
        "crm_field_twice",
        _set("title", crm_field="firstname"),
        "the CRM field 'firstname' is already mapped from 'first_name': a CRM field is mapped once",
    ),
    (
        "unknown_crm_field",
        _set("title", crm_field="acme_nowhere"),
        "HubSpot has no field 'acme_nowhere'",
    ),
    (
        "text_to_number",
        _set("title", crm_field="acme_score"),
        "'title' holds text values but HubSpot's 'acme_score' is a number field: map it to a "
        "string field",
    ),
    (
        "date_to_number",
        _add(crm("since", "acme_score")),
        "'since' holds date values but HubSpot's 'acme_score' is a number field",
    ),
    (
        "multi_to_single_picklist",
        _add(crm("tags", "acme_rating")),
        "'tags' holds multi_picklist values but HubSpot's 'acme_rating' is a picklist field",
    ),
    (
        "picklist_value_missing",
        _add(crm("tiers", "acme_rating")),
        "'Lukewarm' of 'tiers' is not an option of HubSpot's 'acme_rating'",
    ),
    (
        "kind_mismatch",
        _set("title", kind="number"),
        "'title' holds text values, not number",
    ),
    (
        "owner_elsewhere",
        _set("owner", crm_field="acme_linkedin_url"),
        "the owner maps to HubSpot's record owner, 'hubspot_owner_id', only",
    ),
    (
        "custom_field_owned_by_the_app",
        _add({"app_field": "score", "crm_field": "acme_score", "canonical": "app"}),
        "the host sends no values for custom fields yet",
    ),
]


@pytest.mark.parametrize(("edit", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_an_invalid_set_is_refused_with_its_reason_and_changes_nothing(
    linked: World, edit: Edit, message: str
) -> None:
    before = stored(linked)
    r = put(linked, edit(current(linked)))
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert stored(linked) == before


def test_the_valid_counterparts_of_the_refused_rows_are_saved(linked: World) -> None:
    fields = _add(
        crm("since", "acme_since"),
        crm("tags", "acme_tags"),
        crm("rating", "acme_rating"),
        crm("score", "acme_score"),
    )(current(linked))
    r = put(linked, fields)
    assert r.status_code == 200, r.text
    assert [(c["app_field"], c["change"]) for c in r.json()["changes"]] == [
        ("since", "added"),
        ("tags", "added"),
        ("rating", "added"),
        ("score", "added"),
    ]
    saved = {f["app_field"]: f for f in r.json()["mappings"]["objects"][0]["fields"]}
    assert saved["rating"] | {} == {
        "app_field": "rating",
        "crm_field": "acme_rating",
        "canonical": "crm",
        "kind": "picklist",
        "identity": False,
        "fixed": False,
        "custom_in_crm": True,
    }


def test_a_set_with_one_bad_row_saves_none_of_its_good_ones_and_names_every_problem(
    linked: World,
) -> None:
    before = stored(linked)
    fields = _set("title", canonical="crm")(current(linked))
    fields = _add(
        {"app_field": "shoe_size", "crm_field": "acme_score", "canonical": "app"},
        {"app_field": "phones", "crm_field": "acme_since", "canonical": "app"},
    )(fields)
    r = put(linked, fields)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "shoe_size" in detail and "'phones' holds several values" in detail
    assert stored(linked) == before
    assert row(current(linked), "title")["canonical"] == "app"


def test_a_refused_set_keeps_no_catalogue_it_fetched_to_check_it(team: World) -> None:
    team.connect("org1")
    before = stored(team)
    assert not [s for s in before if len(s) == 3], "nothing cached yet"
    r = put(team, _set("title", crm_field="acme_nowhere")(current(team)))
    assert r.status_code == 422, r.text
    assert stored(team) == before


def test_a_canonical_system_is_required_for_every_mapping(linked: World) -> None:
    fields = current(linked)
    del row(fields, "title")["canonical"]
    r = put(linked, fields)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == "canonical"


def test_every_object_mapping_is_listed_once(linked: World) -> None:
    r = linked.api.put(MAPPINGS, json={"objects": []})
    assert r.status_code == 422 and "list each object mapping once: contact" in r.text
    r = linked.api.put(MAPPINGS, json={"objects": [{"local_object": "deal", "fields": []}]})
    assert r.status_code == 422 and "the connection maps no object 'deal'" in r.text
