"""The HubSpot emulator as a change feed, driven by ``hubspot-api-client`` with only its host
changed: stamps, the search index's lag on the emulator's clock, the one-sort and 10,000-result
limits, archive and restore, merges, and who made each change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from hubspot import HubSpot
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    PublicMergeInput,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException

from crmsync.cli.serving import ServerThread
from crmsync.emulation import ManualClock
from crmsync.providers.hubspot.emulator import HubSpotEmulator, HubSpotEmulatorConfig, create_app
from tests.providers.hubspot.hubspot_portal import CLIENT, REDIRECT, SCOPES


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(clock: ManualClock) -> FastAPI:
    return create_app(HubSpotEmulatorConfig(clock=clock, rate_limit_enabled=False))


@pytest.fixture
def emulator(app: FastAPI) -> HubSpotEmulator:
    emulated: HubSpotEmulator = app.state.emulator
    return emulated


@pytest.fixture
def hubspot(app: FastAPI, emulator: HubSpotEmulator) -> Iterator[HubSpot]:
    server = ServerThread(app).start()
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
    try:
        yield HubSpot(access_token=grant.access_token.token, host=server.url)
    finally:
        server.stop()


def body_of(error: ApiException) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(error.body)
    return parsed


def create(hubspot: HubSpot, **properties: str) -> str:
    made = hubspot.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties=properties)
    )
    return str(made.id)


def searched_ids(hubspot: HubSpot, **request: Any) -> list[str]:
    found = hubspot.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**request))
    return [str(r.id) for r in found.results]


def modified_since(stamp: str) -> list[dict[str, Any]]:
    return [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": stamp}]}]


def test_every_write_moves_lastmodifieddate_and_updatedat_but_not_createdate(
    hubspot: HubSpot, clock: ManualClock
) -> None:
    contact_id = create(hubspot, email="ada@example.com")
    basic = hubspot.crm.contacts.basic_api
    before = basic.get_by_id(contact_id)
    clock.advance(5)
    basic.update(contact_id, SimplePublicObjectInput(properties={"firstname": "Ada"}))
    after = basic.get_by_id(contact_id)
    assert after.properties["createdate"] == before.properties["createdate"]
    assert after.properties["lastmodifieddate"] > before.properties["lastmodifieddate"]
    assert after.updated_at > before.updated_at


def test_search_sees_a_write_only_after_the_index_lag(
    hubspot: HubSpot, emulator: HubSpotEmulator, clock: ManualClock
) -> None:
    emulator.store.set_search_lag(30)
    contact_id = create(hubspot, email="ada@example.com", firstname="Ada")
    assert searched_ids(hubspot) == [], "a new contact is not searchable yet"
    assert hubspot.crm.contacts.basic_api.get_by_id(contact_id).id == contact_id, (
        "a read by id is not lagged"
    )
    clock.advance(30)
    assert searched_ids(hubspot) == [contact_id]
    emulator.store.update(contact_id, {"firstname": "Grace"}, manual=True)
    by_name = [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "grace"}]}]
    assert searched_ids(hubspot, filter_groups=by_name) == [], "search still has the old values"
    clock.advance(30)
    assert searched_ids(hubspot, filter_groups=by_name) == [contact_id]


def test_search_pages_by_stamp_or_id_and_refuses_what_it_cannot_do(
    hubspot: HubSpot, clock: ManualClock
) -> None:
    first = create(hubspot, email="a@example.com")
    clock.advance(1)
    second = create(hubspot, email="b@example.com")
    stamp = hubspot.crm.contacts.basic_api.get_by_id(first).properties["lastmodifieddate"]
    by_stamp = [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert searched_ids(hubspot, filter_groups=modified_since(stamp), sorts=by_stamp) == [second]
    by_id = [{"propertyName": "hs_object_id", "direction": "DESCENDING"}]
    assert searched_ids(hubspot, sorts=by_id) == [second, first]
    refused = [
        {"sorts": [*by_stamp, {"propertyName": "hs_object_id", "direction": "ASCENDING"}]},
        {"sorts": [{"propertyName": "no_such_property", "direction": "ASCENDING"}]},
        {"filter_groups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": 1}]}]},
        {"filter_groups": [{"filters": [{"propertyName": "email", "operator": "LIKE"}]}]},
    ]
    for request in refused:
        with pytest.raises(ApiException) as error:
            searched_ids(hubspot, **request)
        assert error.value.status == 400
        assert body_of(error.value)["category"] == "VALIDATION_ERROR"


def test_search_refuses_to_page_past_ten_thousand_results(
    hubspot: HubSpot, emulator: HubSpotEmulator
) -> None:
    emulator.store.create_many([{"firstname": f"n{i}"} for i in range(10_001)])
    found = hubspot.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(limit=200, after="9800")
    )
    assert found.total == 10_001 and len(found.results) == 200
    assert found.paging is None, "no next page past the 10,000th result"
    with pytest.raises(ApiException) as error:
        hubspot.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1, after="10000"))
    assert error.value.status == 400


def test_archive_keeps_the_stamp_lists_archivedat_and_a_restore_brings_it_back(
    hubspot: HubSpot, emulator: HubSpotEmulator, clock: ManualClock
) -> None:
    contact_id = create(hubspot, email="ada@example.com")
    basic = hubspot.crm.contacts.basic_api
    stamp = basic.get_by_id(contact_id).properties["lastmodifieddate"]
    clock.advance(10)
    basic.archive(contact_id)
    with pytest.raises(NotFoundException):
        basic.get_by_id(contact_id)
    [archived] = basic.get_page(archived=True).results
    assert (archived.id, archived.archived) == (contact_id, True)
    assert archived.archived_at is not None and archived.archived_at > archived.updated_at
    assert archived.properties["lastmodifieddate"] == stamp, "archiving is not a modification"
    assert basic.get_by_id(contact_id, archived=True).archived
    batch = hubspot.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": contact_id}], properties=[])
    )
    assert batch.results == [] and batch.errors[0].category == "OBJECT_NOT_FOUND"
    assert searched_ids(hubspot) == [], "search never returns archived contacts"
    clock.advance(10)
    emulator.store.restore(contact_id)
    restored = basic.get_by_id(contact_id)
    assert restored.properties["email"] == "ada@example.com"
    assert restored.properties["lastmodifieddate"] > stamp
    assert basic.get_page(archived=True).results == []


def test_a_merged_id_reads_as_the_survivor_which_lists_it(
    hubspot: HubSpot, clock: ManualClock
) -> None:
    survivor = create(hubspot, email="ada@example.com")
    merged = create(hubspot, email="ada.l@example.com", jobtitle="Countess")
    older = create(hubspot, email="old@example.com")
    basic = hubspot.crm.contacts.basic_api
    stamp = basic.get_by_id(survivor).properties["lastmodifieddate"]
    clock.advance(3)
    basic.merge(PublicMergeInput(primary_object_id=merged, object_id_to_merge=older))
    result = basic.merge(PublicMergeInput(primary_object_id=survivor, object_id_to_merge=merged))
    assert result.id == survivor
    read = basic.get_by_id(merged, properties=["hs_merged_object_ids", "email", "jobtitle"])
    assert read.id == survivor
    assert sorted(read.properties["hs_merged_object_ids"].split(";")) == sorted([merged, older])
    assert (read.properties["email"], read.properties["jobtitle"]) == (
        "ada@example.com",
        "Countess",
    )
    assert read.properties["lastmodifieddate"] > stamp, "a merge moves the survivor's stamp"
    assert basic.get_by_id(older).id == survivor
    with pytest.raises(ApiException) as itself:
        basic.merge(PublicMergeInput(primary_object_id=survivor, object_id_to_merge=merged))
    assert itself.value.status == 400


def test_history_tells_the_apps_writes_from_a_crm_users(
    hubspot: HubSpot, emulator: HubSpotEmulator, clock: ManualClock
) -> None:
    contact_id = create(hubspot, email="ada@example.com", jobtitle="Engineer")
    clock.advance(2)
    emulator.store.update(contact_id, {"jobtitle": "CTO"}, manual=True)
    read = hubspot.crm.contacts.basic_api.get_by_id(
        contact_id, properties_with_history=["jobtitle"]
    )
    [by_user, by_app] = read.properties_with_history["jobtitle"]
    assert (by_user.value, by_user.source_type) == ("CTO", "CRM_UI")
    assert by_user.source_id == f"userId:{emulator.store.admin_source.user_id}"
    assert (by_app.value, by_app.source_type, by_app.source_id) == (
        "Engineer",
        "INTEGRATION",
        str(emulator.config.app_id),
    )
