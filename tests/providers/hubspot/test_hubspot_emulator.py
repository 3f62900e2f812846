"""The HubSpot emulator's API surface, asserted on what a connector sees: OAuth, properties,
owners and contacts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.providers.hubspot.hubspot_portal import (
    CLIENT,
    PERSON_ID,
    REDIRECT,
    SCOPES,
    VERIFIER,
    Portal,
    code_of,
    connect,
    consent,
    exchange,
    person,
)

pytestmark = pytest.mark.anyio

# OAuth --------------------------------------------------------------------------------------


async def test_oauth_round_trip_through_the_consent_form(portal: Portal) -> None:
    tokens = portal.tokens
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 1800
    info = await portal.client.get(f"/oauth/v1/access-tokens/{tokens['access_token']}")
    assert info.json()["hub_id"] == 12345678
    assert info.json()["token_type"] == "access"
    assert set(info.json()["scopes"]) == set(SCOPES.split())
    assert (await portal.call("GET", "/crm/v3/objects/contacts")).status_code == 200


async def test_unknown_client_id_gets_an_html_error_page(portal: Portal) -> None:
    page = await portal.client.get(
        "/oauth/authorize", params={"client_id": "stranger", "redirect_uri": REDIRECT}
    )
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "stranger" in page.text


async def test_deny_redirects_back_with_access_denied(portal: Portal) -> None:
    denied = await consent(portal.client, decision="deny")
    assert denied.status_code == 302
    params = httpx.URL(denied.headers["location"]).params
    assert params["error"] == "access_denied" and params["state"] == "st4te"
    assert "code" not in params


async def test_pkce_verifier_is_enforced_and_a_code_works_once(portal: Portal) -> None:
    wrong = await exchange(portal.client, code_of(await consent(portal.client)), code_verifier="x")
    assert wrong.status_code == 400 and wrong.json()["status"] == "BAD_CODE_VERIFIER"
    missing = await exchange(portal.client, code_of(await consent(portal.client)))
    assert missing.json()["status"] == "BAD_CODE_VERIFIER"
    code = code_of(await consent(portal.client))
    assert (await exchange(portal.client, code, code_verifier=VERIFIER)).status_code == 200
    again = await exchange(portal.client, code, code_verifier=VERIFIER)
    assert again.status_code == 400
    assert again.json()["status"] == "BAD_AUTH_CODE"
    assert again.json()["message"] == "missing or unknown auth code"


async def test_bad_client_secret_is_bad_client_id(portal: Portal) -> None:
    code = code_of(await consent(portal.client))
    answer = await exchange(portal.client, code, code_verifier=VERIFIER, client_secret="nope")
    assert answer.status_code == 400 and answer.json()["status"] == "BAD_CLIENT_ID"


async def test_refresh_gives_a_new_access_token_and_keeps_the_refresh_token(
    portal: Portal,
) -> None:
    data = {"grant_type": "refresh_token", "refresh_token": portal.tokens["refresh_token"]}
    refreshed = await portal.client.post("/oauth/v1/token", data={**data, **CLIENT})
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert body["refresh_token"] == portal.tokens["refresh_token"]
    assert body["access_token"] != portal.tokens["access_token"]
    again = await portal.client.post("/oauth/v1/token", data={**data, **CLIENT})
    assert again.status_code == 200


async def test_revoked_tokens_refuse_refresh_with_bad_refresh_token(portal: Portal) -> None:
    assert (await portal.client.post("/_emulator/tokens/revoke")).status_code == 200
    data = {"grant_type": "refresh_token", "refresh_token": portal.tokens["refresh_token"]}
    refused = await portal.client.post("/oauth/v1/token", data={**data, **CLIENT})
    assert refused.status_code == 400
    assert refused.json()["status"] == "BAD_REFRESH_TOKEN"
    assert refused.json()["message"] == "missing or invalid refresh token"


async def test_expired_access_token_gets_401_until_refreshed(portal: Portal) -> None:
    await portal.client.post("/_emulator/tokens/expire")
    portal.clock.advance(5)
    answer = await portal.call("GET", "/crm/v3/objects/contacts")
    assert answer.status_code == 401
    body = answer.json()
    assert body["status"] == "error" and body["category"] == "EXPIRED_AUTHENTICATION"
    assert "expired 5 second(s) ago" in body["message"] and body["correlationId"]
    data = {"grant_type": "refresh_token", "refresh_token": portal.tokens["refresh_token"]}
    portal.tokens = (await portal.client.post("/oauth/v1/token", data={**data, **CLIENT})).json()
    assert (await portal.call("GET", "/crm/v3/objects/contacts")).status_code == 200


async def test_missing_or_unknown_token_is_invalid_authentication(portal: Portal) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = await portal.client.get("/crm/v3/objects/contacts", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["category"] == "INVALID_AUTHENTICATION"
        assert answer.json()["message"].startswith("Authentication credentials not found.")


async def test_token_without_the_scope_gets_403_missing_scopes(portal: Portal) -> None:
    reader = await connect(portal.client, scope="oauth crm.objects.contacts.read")
    headers = {"Authorization": f"Bearer {reader['access_token']}"}
    assert (await portal.client.get("/crm/v3/objects/contacts", headers=headers)).is_success
    answer = await portal.client.post(
        "/crm/v3/objects/contacts", json={"properties": {}}, headers=headers
    )
    assert answer.status_code == 403
    assert answer.json()["category"] == "MISSING_SCOPES"
    context = answer.json()["errors"][0]["context"]
    assert context["requiredGranularScopes"] == ["crm.objects.contacts.write"]


# properties and owners ----------------------------------------------------------------------


async def test_property_create_then_conflict_and_lookups(portal: Portal) -> None:
    await portal.add_person_id_property()
    stored = (await portal.call("GET", f"/crm/v3/properties/contacts/{PERSON_ID}")).json()
    assert stored["hasUniqueValue"] is True and stored["groupName"] == "crmsync"
    assert stored["calculated"] is False and stored["hidden"] is False
    again = await portal.call(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": PERSON_ID,
            "label": "x",
            "type": "string",
            "fieldType": "text",
            "groupName": "crmsync",
        },
    )
    assert again.status_code == 409
    assert again.json()["message"] == f"Property named '{PERSON_ID}' already exists."
    assert again.json()["category"] == "CONFLICT"
    names = {
        p["name"]
        for p in (await portal.call("GET", "/crm/v3/properties/contacts")).json()["results"]
    }
    assert {"email", "firstname", "hubspot_owner_id", "lastmodifieddate", PERSON_ID} <= names
    missing = await portal.call("GET", "/crm/v3/properties/contacts/nope")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


async def test_property_in_unknown_group_is_400_and_group_conflicts_409(portal: Portal) -> None:
    bad = await portal.call(
        "POST",
        "/crm/v3/properties/contacts",
        json={
            "name": "x_y",
            "label": "x",
            "type": "string",
            "fieldType": "text",
            "groupName": "nowhere",
        },
    )
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    group = {"name": "contactinformation", "label": "dup"}
    assert (
        await portal.call("POST", "/crm/v3/properties/contacts/groups", json=group)
    ).status_code == 409
    groups = (await portal.call("GET", "/crm/v3/properties/contacts/groups")).json()["results"]
    assert "contactinformation" in {g["name"] for g in groups}


async def test_owners_by_email_and_paging(portal: Portal) -> None:
    owner_id = portal.emulator.add_owner("Rep@Acme.test", "Rita", "Rep")
    seeded = await portal.client.post(
        "/_emulator/owners", json={"email": "two@acme.test", "firstName": "T", "lastName": "W"}
    )
    assert seeded.status_code == 201
    found = (await portal.call("GET", "/crm/v3/owners", params={"email": "rep@acme.test"})).json()
    assert [o["id"] for o in found["results"]] == [owner_id]
    owner = found["results"][0]
    assert owner["firstName"] == "Rita" and owner["archived"] is False and owner["teams"] == []
    assert isinstance(owner["userId"], int)
    first = (await portal.call("GET", "/crm/v3/owners", params={"limit": 2})).json()
    assert len(first["results"]) == 2
    after = first["paging"]["next"]["after"]
    rest = (await portal.call("GET", "/crm/v3/owners", params={"limit": 2, "after": after})).json()
    assert [o["email"] for o in rest["results"]] == ["two@acme.test"]
    assert "paging" not in rest


# contacts -----------------------------------------------------------------------------------


async def test_batch_upsert_creates_then_updates_in_place(portal: Portal) -> None:
    await portal.add_person_id_property()
    created = await portal.upsert(person("p-1", email="Ada@Example.com", firstname="Ada"))
    assert created.status_code == 200
    first = created.json()["results"][0]
    assert first["new"] is True and first["properties"][PERSON_ID] == "p-1"
    assert first["properties"]["email"] == "ada@example.com"
    assert created.json()["status"] == "COMPLETE" and "errors" not in created.json()
    portal.clock.advance(60)
    updated = await portal.upsert(person("p-1", lastname="Lovelace"))
    second = updated.json()["results"][0]
    assert second["new"] is False and second["id"] == first["id"]
    assert second["properties"]["lastmodifieddate"] > first["properties"]["lastmodifieddate"]
    [stored] = portal.emulator.find_contacts(crmsync_person_id="p-1")
    assert stored.properties["lastname"] == "Lovelace" and stored.properties["firstname"] == "Ada"
    assert stored.properties["hs_object_id"] == stored.id
    assert len(portal.emulator.contacts) == 1


async def test_upsert_changes_the_email_of_an_existing_record(portal: Portal) -> None:
    await portal.add_person_id_property()
    await portal.upsert(person("p-1", email="old@job.test"))
    moved = await portal.upsert(person("p-1", email="new@job.test"))
    assert moved.status_code == 200 and moved.json()["results"][0]["new"] is False
    assert portal.emulator.find_contacts(email="old@job.test") == []
    assert len(portal.emulator.find_contacts(email="new@job.test")) == 1
    reuse = await portal.upsert(person("p-2", email="old@job.test"))
    assert reuse.json()["results"][0]["new"] is True


async def test_upsert_item_errors_do_not_block_the_others(portal: Portal) -> None:
    await portal.add_person_id_property()
    first = (await portal.upsert(person("p-1", email="taken@acme.test"))).json()["results"][0]
    mixed = await portal.upsert(
        person("p-2", email="taken@acme.test"),
        person("p-3", email="free@acme.test"),
        person("p-4", foo="bar"),
    )
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["numErrors"] == 2
    assert [r["properties"][PERSON_ID] for r in body["results"]] == ["p-3"]
    conflict, invalid = body["errors"]
    assert conflict["category"] == "CONFLICT" and conflict["context"]["ids"] == ["p-2"]
    assert f"Existing ID: {first['id']}" in conflict["message"]
    assert invalid["category"] == "VALIDATION_ERROR" and invalid["context"]["ids"] == ["p-4"]
    assert invalid["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert portal.emulator.find_contacts(crmsync_person_id="p-2") == []


async def test_duplicate_ids_and_oversized_batches_are_refused(portal: Portal) -> None:
    await portal.add_person_id_property()
    twice = await portal.upsert(person("p-1"), person("p-1"))
    assert twice.status_code == 400 and "Duplicate IDs" in twice.json()["message"]
    huge = await portal.upsert(*[person(f"p-{i}") for i in range(101)])
    assert huge.status_code == 400 and huge.json()["category"] == "VALIDATION_ERROR"
    not_unique = await portal.upsert({"id": "Ada", "idProperty": "firstname", "properties": {}})
    assert not_unique.status_code == 400
    assert portal.emulator.contacts == {}


async def test_single_create_with_a_taken_email_is_409(portal: Portal) -> None:
    first = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "a@b.test"}}
    )
    assert first.status_code == 201
    existing = first.json()["id"]
    dup = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "A@B.test"}}
    )
    assert dup.status_code == 409
    body = dup.json()
    assert body == {
        "status": "error",
        "message": f"Contact already exists. Existing ID: {existing}",
        "correlationId": body["correlationId"],
        "category": "CONFLICT",
        "context": {"existingId": [existing]},
    }


async def test_batch_create_with_a_taken_email_fails_as_a_whole(portal: Portal) -> None:
    await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "a@b.test"}}
    )
    inputs = [{"properties": {"email": "new@b.test"}}, {"properties": {"email": "a@b.test"}}]
    answer = await portal.call(
        "POST", "/crm/v3/objects/contacts/batch/create", json={"inputs": inputs}
    )
    assert answer.status_code == 409 and answer.json()["category"] == "CONFLICT"
    assert portal.emulator.find_contacts(email="new@b.test") == []
    fine = await portal.call(
        "POST", "/crm/v3/objects/contacts/batch/create", json={"inputs": inputs[:1]}
    )
    assert fine.status_code == 201 and len(fine.json()["results"]) == 1


async def test_unknown_property_is_400_property_doesnt_exist(portal: Portal) -> None:
    answer = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "x@y.test", "foo": "1"}}
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    assert body["errors"] == [
        {
            "message": 'Property "foo" does not exist',
            "code": "PROPERTY_DOESNT_EXIST",
            "context": {"propertyName": ["foo"]},
        }
    ]
    assert portal.emulator.contacts == {}


async def test_owner_property_must_name_an_existing_owner(portal: Portal) -> None:
    owner = portal.emulator.add_owner("rep@acme.test", "R", "R")
    bad = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"hubspot_owner_id": "999"}}
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "INVALID_OWNER_ID"
    good = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"hubspot_owner_id": owner}}
    )
    assert good.status_code == 201 and good.json()["properties"]["hubspot_owner_id"] == owner


async def test_get_and_patch_by_id_property_and_404_body(portal: Portal) -> None:
    await portal.add_person_id_property()
    [created] = (await portal.upsert(person("p-9", email="n@x.test"))).json()["results"]
    by_pid = await portal.call(
        "GET",
        "/crm/v3/objects/contacts/p-9",
        params={"idProperty": PERSON_ID, "properties": "email,phone"},
    )
    assert by_pid.json()["id"] == created["id"]
    assert by_pid.json()["properties"]["email"] == "n@x.test"
    assert by_pid.json()["properties"]["phone"] is None
    patched = await portal.call(
        "PATCH",
        "/crm/v3/objects/contacts/n@x.test",
        params={"idProperty": "email"},
        json={"properties": {"jobtitle": "CTO"}},
    )
    assert patched.status_code == 200 and patched.json()["properties"]["jobtitle"] == "CTO"
    missing = await portal.call("GET", "/crm/v3/objects/contacts/424242")
    assert missing.status_code == 404
    assert missing.json()["message"] == "resource not found"
    assert missing.json()["category"] == "OBJECT_NOT_FOUND"


async def test_archive_frees_the_email_and_hides_the_contact(portal: Portal) -> None:
    created = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "gone@x.test"}}
    )
    contact_id = created.json()["id"]
    assert (
        await portal.call("DELETE", f"/crm/v3/objects/contacts/{contact_id}")
    ).status_code == 204
    assert (await portal.call("GET", f"/crm/v3/objects/contacts/{contact_id}")).status_code == 404
    again = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "gone@x.test"}}
    )
    assert again.status_code == 201 and again.json()["id"] != contact_id


async def test_batch_read_reports_missing_ids_in_a_207(portal: Portal) -> None:
    created = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "r@x.test"}}
    )
    contact_id = created.json()["id"]
    answer = await portal.call(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": contact_id}, {"id": "1"}], "properties": ["email"]},
    )
    assert answer.status_code == 207
    assert answer.json()["results"][0]["properties"]["email"] == "r@x.test"
    assert answer.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert answer.json()["errors"][0]["context"] == {"ids": ["1"]}


async def test_batch_update_conflict_is_per_item(portal: Portal) -> None:
    ids = []
    for email in ("one@x.test", "two@x.test"):
        created = await portal.call(
            "POST", "/crm/v3/objects/contacts", json={"properties": {"email": email}}
        )
        ids.append(created.json()["id"])
    answer = await portal.call(
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": ids[0], "properties": {"email": "two@x.test"}},
                {"id": ids[1], "properties": {"firstname": "Two"}},
            ]
        },
    )
    assert answer.status_code == 207
    assert answer.json()["errors"][0]["category"] == "CONFLICT"
    assert answer.json()["results"][0]["properties"]["firstname"] == "Two"


async def test_object_type_id_0_1_is_the_same_contacts(portal: Portal) -> None:
    created = await portal.call(
        "POST", "/crm/v3/objects/0-1", json={"properties": {"email": "alias@x.test"}}
    )
    fetched = await portal.call("GET", f"/crm/v3/objects/contacts/{created.json()['id']}")
    assert fetched.json()["properties"]["email"] == "alias@x.test"


async def test_list_contacts_pages_with_after(portal: Portal) -> None:
    for i in range(5):
        await portal.call(
            "POST", "/crm/v3/objects/contacts", json={"properties": {"email": f"l{i}@x.test"}}
        )
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, "properties": "email"}
        if after:
            params["after"] = after
        page = (await portal.call("GET", "/crm/v3/objects/contacts", params=params)).json()
        seen += [r["properties"]["email"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert seen == [f"l{i}@x.test" for i in range(5)]
