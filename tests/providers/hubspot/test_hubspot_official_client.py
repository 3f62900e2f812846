"""The HubSpot emulator served on a loopback port and driven by ``hubspot-api-client`` with
only its host changed: contacts (basic, batch, search), properties and owners answer as
HubSpot documents, records read back with HubSpot's property names written out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException as ContactsError
from hubspot.crm.properties import (
    PropertyCreate,
    PropertyGroupCreate,
    PropertyGroupUpdate,
    PropertyUpdate,
)
from hubspot.crm.properties.exceptions import ApiException as PropertiesError

from crmsync.cli.serving import ServerThread
from crmsync.providers.hubspot.emulator import HubSpotEmulator, HubSpotEmulatorConfig, create_app
from tests.providers.hubspot.hubspot_portal import CLIENT, REDIRECT, SCOPES

PERSON_ID = "acme_person_id"


@pytest.fixture
def app() -> FastAPI:
    return create_app(HubSpotEmulatorConfig())


@pytest.fixture
def emulator(app: FastAPI) -> HubSpotEmulator:
    emulated: HubSpotEmulator = app.state.emulator
    return emulated


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    server = ServerThread(app).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def hubspot(emulator: HubSpotEmulator, served: str) -> HubSpot:
    code = emulator.oauth.issue_code(
        client_id=CLIENT["client_id"],
        redirect_uri=REDIRECT,
        scopes=SCOPES.split(),
        account_id=emulator.account_id,
        user="admin",
    )
    grant = emulator.oauth.exchange_code(
        code=code, client_id=CLIENT["client_id"], redirect_uri=REDIRECT
    )
    return HubSpot(access_token=grant.access_token.token, host=served)


def body_of(error: Any) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(error.body)
    return parsed


def add_person_id(hubspot: HubSpot) -> None:
    groups = hubspot.crm.properties.groups_api
    groups.create("contacts", PropertyGroupCreate(name="acme", label="Acme", display_order=-1))
    hubspot.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            name=PERSON_ID,
            label="Acme Person ID",
            type="string",
            field_type="text",
            group_name="acme",
            has_unique_value=True,
        ),
    )


# Contacts ------------------------------------------------------------------------------------


def test_contacts_round_trip_through_basic_batch_and_search(
    hubspot: HubSpot, emulator: HubSpotEmulator
) -> None:
    add_person_id(hubspot)
    contacts = hubspot.crm.contacts
    created = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "ada@example.com", PERSON_ID: "p1"})
    )
    by_email = contacts.basic_api.get_by_id(
        "ada@example.com", id_property="email", properties=[PERSON_ID]
    )
    assert (by_email.id, by_email.properties[PERSON_ID]) == (created.id, "p1")
    upserted = contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "p1", "idProperty": PERSON_ID, "properties": {"firstname": "Ada"}},
                {"id": "p2", "idProperty": PERSON_ID, "properties": {"email": "g@example.com"}},
            ]
        )
    )
    assert sorted((r.properties[PERSON_ID], r.new) for r in upserted.results) == [
        ("p1", False),
        ("p2", True),
    ]
    found = contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "ada"}]}
            ],
            properties=["email", PERSON_ID],
        )
    )
    assert [(r.id, r.properties["email"]) for r in found.results] == [
        (created.id, "ada@example.com")
    ]
    [stored] = emulator.find_contacts(**{PERSON_ID: "p1"})
    assert (stored.properties["firstname"], stored.properties["email"]) == (
        "Ada",
        "ada@example.com",
    )


def test_owners_are_found_by_email(hubspot: HubSpot, emulator: HubSpotEmulator) -> None:
    owner_id = emulator.add_owner("olive@acme.test", "Olive", "Owner")
    page = hubspot.crm.owners.owners_api.get_page(email="olive@acme.test", limit=100)
    [owner] = page.results
    assert (owner.id, owner.email, owner.first_name) == (owner_id, "olive@acme.test", "Olive")
    assert hubspot.crm.owners.owners_api.get_by_id(owner_id).last_name == "Owner"


def test_property_history_names_the_app_and_the_crm_user_for_each_value(
    hubspot: HubSpot, emulator: HubSpotEmulator
) -> None:
    contacts = hubspot.crm.contacts
    created = contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "ada@example.com", "firstname": "A"})
    )
    emulator.store.update(created.id, {"firstname": "Ada"}, manual=True)
    read = contacts.basic_api.get_by_id(created.id, properties_with_history=["firstname"])
    newest, oldest = read.properties_with_history["firstname"]
    app_id = str(emulator.config.app_id)
    assert (oldest.value, oldest.source_type, oldest.source_id) == ("A", "INTEGRATION", app_id)
    admin = emulator.store.admin_source.user_id
    assert (newest.value, newest.source_type, newest.updated_by_user_id) == ("Ada", "CRM_UI", admin)
    assert newest.timestamp >= oldest.timestamp
    [batch] = contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": created.id}], properties=[], properties_with_history=["email"]
        )
    ).results
    assert [v.source_type for v in batch.properties_with_history["email"]] == ["INTEGRATION"]
    listed = contacts.basic_api.get_page(properties_with_history=["firstname"]).results
    assert [len(c.properties_with_history["firstname"]) for c in listed] == [2]


# Properties ----------------------------------------------------------------------------------


def test_a_custom_property_is_updated(hubspot: HubSpot) -> None:
    add_person_id(hubspot)
    core = hubspot.crm.properties.core_api
    updated = core.update(
        "contacts", PERSON_ID, PropertyUpdate(label="Acme person", description="Set by Acme")
    )
    assert (updated.label, updated.description) == ("Acme person", "Set by Acme")
    read = core.get_by_name("contacts", PERSON_ID)
    assert (read.label, read.has_unique_value, read.group_name) == ("Acme person", True, "acme")


def test_hubspot_defined_properties_cannot_be_updated_or_archived(hubspot: HubSpot) -> None:
    core = hubspot.crm.properties.core_api
    with pytest.raises(PropertiesError) as refused:
        core.update("contacts", "firstname", PropertyUpdate(label="Given name"))
    assert refused.value.status == 400
    with pytest.raises(PropertiesError) as kept:
        core.archive("contacts", "email")
    assert kept.value.status == 400
    assert body_of(kept.value)["category"] == "VALIDATION_ERROR"


def test_an_archived_property_is_listed_as_archived_and_no_longer_written(
    hubspot: HubSpot,
) -> None:
    add_person_id(hubspot)
    core = hubspot.crm.properties.core_api
    core.archive("contacts", PERSON_ID)
    assert PERSON_ID not in {p.name for p in core.get_all("contacts").results}
    [archived] = core.get_all("contacts", archived=True).results
    assert (archived.name, archived.archived) == (PERSON_ID, True)
    assert archived.archived_at is not None
    with pytest.raises(ContactsError) as refused:
        hubspot.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={PERSON_ID: "p1"})
        )
    assert body_of(refused.value)["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"


def test_property_groups_are_updated_and_archived_when_empty(hubspot: HubSpot) -> None:
    add_person_id(hubspot)
    groups = hubspot.crm.properties.groups_api
    assert groups.update("contacts", "acme", PropertyGroupUpdate(label="Acme Inc")).label == (
        "Acme Inc"
    )
    with pytest.raises(PropertiesError) as in_use:
        groups.archive("contacts", "acme")
    assert in_use.value.status == 400
    hubspot.crm.properties.core_api.archive("contacts", PERSON_ID)
    groups.archive("contacts", "acme")
    assert "acme" not in {g.name for g in groups.get_all("contacts").results}


# Unknown routes ------------------------------------------------------------------------------


def test_an_unknown_route_answers_hubspots_json_404(hubspot: HubSpot, served: str) -> None:
    response = hubspot.api_request(
        {"method": "GET", "path": "/crm/v3/objects/contacts/1/no/such/thing", "base_url": served}
    )
    assert response.status_code == 404
    body = response.json()
    assert (body["status"], body["category"]) == ("error", "OBJECT_NOT_FOUND")
    assert body["correlationId"] and body["message"]
    assert "detail" not in body
