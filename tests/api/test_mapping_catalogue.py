"""The CRM's field catalogue behind the mappings: read from the CRM once and kept, read again
on demand or when a mapping names a field created since; and a CRM that cannot describe its
fields takes names as given, and says so."""

from __future__ import annotations

import pytest

from crmsync.domain.records import Capability
from crmsync.providers.hubspot.connector import HubSpotConnector
from tests.support.mappings import MAPPINGS, current, hubspot_property, put, row
from tests.support.world import World

CATALOGUE = "/api/v1/orgs/org1/connection/fields"


@pytest.fixture
def linked(team: World) -> World:
    team.connect("org1")
    return team


def names(w: World, refresh: bool = False) -> set[str]:
    r = w.api.get(CATALOGUE, params={"refresh": refresh})
    assert r.status_code == 200, r.text
    assert r.json()["checked"] is True
    return {f["name"] for f in r.json()["fields"]}


def test_the_catalogue_lists_the_crms_fields_custom_ones_included(linked: World) -> None:
    hubspot_property(linked, "acme_rating", "enumeration", "select", ("Hot", "Cold"))
    r = linked.api.get(CATALOGUE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["provider"], body["crm_object"]) == ("hubspot", "contacts")
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["acme_rating"] == {
        "name": "acme_rating",
        "label": "Acme Rating",
        "type": "picklist",
        "custom": True,
        "read_only": False,
        "options": ["Hot", "Cold"],
    }
    assert fields["jobtitle"]["custom"] is False and fields["jobtitle"]["type"] == "string"


def test_the_catalogue_is_kept_until_asked_for_again(linked: World) -> None:
    assert "acme_score" not in names(linked)
    hubspot_property(linked, "acme_score", "number", "number")
    assert "acme_score" not in names(linked), "kept: the CRM is not asked again"
    assert "acme_score" in names(linked, refresh=True)
    assert "acme_score" in names(linked)


def test_a_mapping_to_a_field_created_since_the_catalogue_was_read_is_accepted(
    linked: World,
) -> None:
    names(linked)
    hubspot_property(linked, "acme_headline", "string", "text")
    fields = current(linked)
    row(fields, "title")["crm_field"] = "acme_headline"
    r = put(linked, fields)
    assert r.status_code == 200, r.text
    assert "acme_headline" in names(linked), "the catalogue read to check it is kept"
    saved = row(r.json()["mappings"]["objects"][0]["fields"], "title")
    assert saved["custom_in_crm"] is True


@pytest.fixture
def undescribed(linked: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """HubSpot as a connector that does not declare ``describe_fields``."""
    without = HubSpotConnector.capabilities - {Capability.DESCRIBE_FIELDS}
    monkeypatch.setattr(HubSpotConnector, "capabilities", without)
    return linked


def test_without_a_catalogue_crm_field_names_are_taken_as_given_and_said_to_be(
    undescribed: World,
) -> None:
    r = undescribed.api.get(CATALOGUE)
    assert r.status_code == 200 and r.json()["checked"] is False and r.json()["fields"] == []
    fields = current(undescribed)
    row(fields, "title")["crm_field"] = "whatever_it_is_called"
    r = put(undescribed, fields)
    assert r.status_code == 200, r.text
    saved = r.json()["mappings"]
    assert saved["crm_fields_checked"] is False
    assert "CRM field names are taken as given, unchecked" in saved["note"]
    assert row(saved["objects"][0]["fields"], "title")["crm_field"] == "whatever_it_is_called"
    assert undescribed.api.get(MAPPINGS).json()["crm_fields_checked"] is False


def test_without_a_catalogue_the_rules_that_need_none_still_hold(undescribed: World) -> None:
    fields = [f for f in current(undescribed) if f["app_field"] != "person_id"]
    r = put(undescribed, fields)
    assert r.status_code == 422 and "Person ID mapping" in r.text
