"""The HubSpot emulator, asserted on what a connector sees: statuses, bodies, headers, records."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
import uvicorn

from crmsync.emulation import ManualClock, pkce_challenge
from crmsync.providers.hubspot.emulator import HubSpotEmulator, HubSpotEmulatorConfig, create_app

pytestmark = pytest.mark.anyio

SCOPES = (
    "oauth crm.objects.contacts.read crm.objects.contacts.write crm.schemas.contacts.read "
    "crm.schemas.contacts.write crm.objects.owners.read"
)
REDIRECT = "https://app.crmsync.test/oauth/hubspot/callback"
CLIENT = {"client_id": "crmsync-demo", "client_secret": "crmsync-demo-secret"}
VERIFIER = "verifier-" * 6
PERSON_ID = "crmsync_person_id"
UPSERT = "/crm/v3/objects/contacts/batch/upsert"


class ConsentForm(HTMLParser):
    """Reads a consent page the way a browser submits it: hidden fields and checked radios."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.decisions: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.action = a["action"]
        elif tag == "input" and (a["type"] == "hidden" or "checked" in a):
            self.fields[a["name"]] = a["value"]
        elif tag == "button" and a.get("name") == "decision":
            self.decisions.append(a["value"])


async def consent(
    client: httpx.AsyncClient,
    *,
    scope: str = SCOPES,
    decision: str = "allow",
    challenge: str | None = pkce_challenge(VERIFIER),
) -> httpx.Response:
    params = {"client_id": CLIENT["client_id"], "redirect_uri": REDIRECT, "scope": scope}
    params["state"] = "st4te"
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    form = ConsentForm()
    form.feed(page.text)
    assert form.decisions == ["allow", "deny"]
    return await client.post(
        urljoin(str(page.url), form.action), data={**form.fields, "decision": decision}
    )


async def exchange(client: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    return await client.post("/oauth/v1/token", data={**data, **CLIENT, **extra})


def code_of(redirect: httpx.Response) -> str:
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.params["state"] == "st4te"
    return location.params["code"]


async def connect(client: httpx.AsyncClient, scope: str = SCOPES) -> dict[str, Any]:
    answer = await exchange(
        client, code_of(await consent(client, scope=scope)), code_verifier=VERIFIER
    )
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


@dataclass
class Portal:
    client: httpx.AsyncClient
    emulator: HubSpotEmulator
    tokens: dict[str, Any]
    clock: ManualClock

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens['access_token']}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.request(method, path, headers=self.auth, **kwargs)

    async def upsert(self, *inputs: dict[str, Any]) -> httpx.Response:
        return await self.call("POST", UPSERT, json={"inputs": list(inputs)})

    async def add_person_id_property(self) -> None:
        group = {"name": "crmsync", "label": "crmsync", "displayOrder": -1}
        assert (
            await self.call("POST", "/crm/v3/properties/contacts/groups", json=group)
        ).is_success
        prop = {
            "name": PERSON_ID,
            "label": "crmsync Person ID",
            "type": "string",
            "fieldType": "text",
            "groupName": "crmsync",
            "hasUniqueValue": True,
        }
        assert (
            await self.call("POST", "/crm/v3/properties/contacts", json=prop)
        ).status_code == 201


def person(pid: str, **properties: str) -> dict[str, Any]:
    return {"id": pid, "idProperty": PERSON_ID, "properties": properties}


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hubspot.test")


@pytest.fixture
async def portal(anyio_backend: str, clock: ManualClock) -> AsyncIterator[Portal]:
    app = create_app(HubSpotEmulatorConfig(clock=clock))
    async with client_for(app) as client:
        yield Portal(client, app.state.emulator, await connect(client), clock)


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


# search -------------------------------------------------------------------------------------


async def test_search_by_custom_property_eq_and_in_with_paging(portal: Portal) -> None:
    await portal.add_person_id_property()
    await portal.upsert(*[person(f"p-{i}", email=f"s{i}@x.test") for i in range(7)])
    search = "/crm/v3/objects/contacts/search"

    def query(operator: str, after: str | None = None, **value: Any) -> dict[str, Any]:
        body = {
            "filterGroups": [
                {"filters": [{"propertyName": PERSON_ID, "operator": operator, **value}]}
            ],
            "properties": [PERSON_ID],
            "sorts": [{"propertyName": PERSON_ID, "direction": "DESCENDING"}],
            "limit": 2,
        }
        return body | ({"after": after} if after else {})

    eq = (await portal.call("POST", search, json=query("EQ", value="p-3"))).json()
    assert eq["total"] == 1 and eq["results"][0]["properties"][PERSON_ID] == "p-3"
    wanted = ["p-1", "p-2", "p-4", "p-6", "p-9"]
    found: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = (await portal.call("POST", search, json=query("IN", after, values=wanted))).json()
        assert page["total"] == 4
        found += [r["properties"][PERSON_ID] for r in page["results"]]
        pages += 1
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert found == ["p-6", "p-4", "p-2", "p-1"] and pages == 2


async def test_search_or_groups_delta_by_lastmodifieddate_and_limits(portal: Portal) -> None:
    search = "/crm/v3/objects/contacts/search"
    for name in ("ann", "bob", "cid"):
        await portal.call(
            "POST",
            "/crm/v3/objects/contacts",
            json={"properties": {"email": f"{name}@x.test", "firstname": name}},
        )
        portal.clock.advance(10)
    groups = [
        {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": n}]}
        for n in ("ANN", "cid")
    ]
    either = (await portal.call("POST", search, json={"filterGroups": groups})).json()
    assert sorted(r["properties"]["firstname"] for r in either["results"]) == ["ann", "cid"]
    since_ms = int((portal.clock() - 25) * 1000)  # after ann, before bob
    delta = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(since_ms)}
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
    }
    recent = (await portal.call("POST", search, json=delta)).json()
    assert [r["properties"]["firstname"] for r in recent["results"]] == ["bob", "cid"]
    one = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    for body in (
        {"filterGroups": [{"filters": [one]}] * 6},
        {"filterGroups": [{"filters": [one] * 11}]},
        {"limit": 201},
        {"limit": 100, "after": "9950"},
    ):
        portal.clock.advance(1)  # stay under the 5 searches per second
        refused = await portal.call("POST", search, json=body)
        assert refused.status_code == 400, body
        assert refused.json()["category"] == "VALIDATION_ERROR"


# rate limits --------------------------------------------------------------------------------


async def test_rate_limit_429_after_110_requests_then_recovers(portal: Portal) -> None:
    remaining = []
    for _ in range(110):
        answer = await portal.call("GET", "/crm/v3/objects/contacts")
        assert answer.status_code == 200
        remaining.append(int(answer.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining[0] == 109 and remaining[-1] == 0
    limited = await portal.call("GET", "/crm/v3/objects/contacts")
    assert limited.status_code == 429
    body = limited.json()
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
    assert body["correlationId"] and body["groupName"]
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "110"
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert (await portal.client.get("/_emulator/counters")).status_code == 200  # not limited
    portal.clock.advance(10)
    assert (await portal.call("GET", "/crm/v3/objects/contacts")).status_code == 200


async def test_search_has_its_own_per_second_limit(portal: Portal) -> None:
    search = "/crm/v3/objects/contacts/search"
    answers = [await portal.call("POST", search, json={}) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["errorType"] == "RATE_LIMIT"
    assert "X-HubSpot-RateLimit-Remaining" not in answers[0].headers
    portal.clock.advance(1)
    assert (await portal.call("POST", search, json={})).status_code == 200
    listed = await portal.call("GET", "/crm/v3/objects/contacts")
    assert listed.headers["X-HubSpot-RateLimit-Remaining"] == "109"  # search did not count


async def test_rate_limit_can_be_turned_off_and_resized(portal: Portal) -> None:
    off = await portal.client.put("/_emulator/ratelimit", json={"enabled": False})
    assert off.json()["enabled"] is False
    assert all(
        [(await portal.call("GET", "/crm/v3/owners")).status_code == 200 for _ in range(120)]
    )
    await portal.client.put("/_emulator/ratelimit", json={"enabled": True, "max_requests": 2})
    codes = [(await portal.call("GET", "/crm/v3/owners")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# faults and counters ------------------------------------------------------------------------


async def test_timeout_after_commits_the_write_then_raises_read_timeout(portal: Portal) -> None:
    await portal.add_person_id_property()
    await portal.client.put("/_emulator/faults", json={"rates": {"timeout_after": 1.0}})
    with pytest.raises(httpx.ReadTimeout):
        await portal.upsert(person("p-1", email="once@x.test"))
    await portal.client.put("/_emulator/faults", json={})
    retried = await portal.upsert(person("p-1", email="once@x.test"))
    assert retried.json()["results"][0]["new"] is False
    assert len(portal.emulator.find_contacts(crmsync_person_id="p-1")) == 1
    injected = (await portal.client.get("/_emulator/faults")).json()["injected"]
    assert injected["timeout_after"] == 1


@pytest.mark.parametrize(
    ("kind", "error"), [("timeout_before", httpx.ReadTimeout), ("reset", httpx.RemoteProtocolError)]
)
async def test_faults_before_the_write_write_nothing(
    portal: Portal, kind: str, error: type[Exception]
) -> None:
    portal.emulator.faults.configure(rates={kind: 1.0})
    with pytest.raises(error):
        await portal.call(
            "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "never@x.test"}}
        )
    assert portal.emulator.contacts == {}


async def test_burst_429_hits_the_next_n_api_calls(portal: Portal) -> None:
    await portal.client.put("/_emulator/faults", json={"burst_429": 2})
    answers = [await portal.call("GET", "/crm/v3/owners") for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert answers[0].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert (await portal.client.get("/_emulator/faults")).json()["injected"]["429"] == 2


async def test_500_rate_hits_api_and_token_endpoint_but_not_consent_or_controls(
    portal: Portal,
) -> None:
    await portal.client.put("/_emulator/faults", json={"rates": {"500": 1.0}})
    api = await portal.call("GET", "/crm/v3/owners")
    assert api.status_code == 500 and api.json()["status"] == "error"
    data = {"grant_type": "refresh_token", "refresh_token": portal.tokens["refresh_token"]}
    assert (await portal.client.post("/oauth/v1/token", data={**data, **CLIENT})).status_code == 500
    page = await portal.client.get(
        "/oauth/authorize", params={"client_id": "crmsync-demo", "redirect_uri": REDIRECT}
    )
    assert page.status_code == 200
    faults = (await portal.client.get("/_emulator/faults")).json()
    assert faults["injected"]["500"] == 2


async def test_counters_by_endpoint_template(portal: Portal) -> None:
    await portal.client.post("/_emulator/counters/reset")
    await portal.add_person_id_property()
    await portal.upsert(person("p-1"))
    await portal.upsert(person("p-2"))
    await portal.call("GET", "/crm/v3/objects/contacts/1")
    counters = (await portal.client.get("/_emulator/counters")).json()
    assert counters["by_endpoint"] == {
        "GET /crm/v3/objects/contacts/{contact_id}": 1,
        "POST /crm/v3/objects/contacts/batch/upsert": 2,
        "POST /crm/v3/properties/contacts": 1,
        "POST /crm/v3/properties/contacts/groups": 1,
    }
    assert counters["total"] == 5
    assert portal.emulator.counters.get("POST", UPSERT) == 2


# emulator controls --------------------------------------------------------------------------


async def test_manual_edit_bumps_lastmodifieddate_without_auth(portal: Portal) -> None:
    created = await portal.call(
        "POST", "/crm/v3/objects/contacts", json={"properties": {"email": "m@x.test"}}
    )
    before = created.json()["properties"]["lastmodifieddate"]
    portal.clock.advance(30)
    edited = await portal.client.patch(
        f"/_emulator/contacts/{created.json()['id']}", json={"properties": {"phone": "+1 555"}}
    )
    assert edited.status_code == 200
    assert edited.json()["properties"]["phone"] == "+1 555"
    assert edited.json()["properties"]["lastmodifieddate"] > before
    listing = (await portal.client.get("/_emulator/contacts")).json()
    assert listing["total"] == 1 and listing["results"][0]["properties"]["phone"] == "+1 555"


async def test_reset_restores_a_fresh_portal_and_keeps_the_connection(portal: Portal) -> None:
    await portal.add_person_id_property()
    await portal.upsert(person("p-1"))
    portal.emulator.faults.configure(rates={"500": 0.5})
    assert (await portal.client.post("/_emulator/reset")).status_code == 200
    assert portal.emulator.contacts == {}
    assert PERSON_ID not in portal.emulator.store.properties
    assert portal.emulator.faults.config.rates == {}
    assert (await portal.call("GET", "/crm/v3/objects/contacts")).status_code == 200


def test_threads_with_their_own_event_loops_write_each_person_once() -> None:
    app = create_app(HubSpotEmulatorConfig(rate_limit_enabled=False))
    emulator: HubSpotEmulator = app.state.emulator
    emulator.store.create_group({"name": "crmsync", "label": "crmsync"})
    emulator.store.create_property(
        {
            "name": PERSON_ID,
            "label": "P",
            "type": "string",
            "fieldType": "text",
            "groupName": "crmsync",
            "hasUniqueValue": True,
        }
    )
    grant = emulator.oauth.exchange_code(
        code=emulator.oauth.issue_code(
            client_id="crmsync-demo",
            redirect_uri=REDIRECT,
            scopes=SCOPES.split(),
            account_id=emulator.account_id,
            user="u@x.test",
        ),
        client_id="crmsync-demo",
        redirect_uri=REDIRECT,
    )
    auth = {"Authorization": f"Bearer {grant.access_token.token}"}
    failures: list[int] = []

    async def worker(offset: int) -> None:
        async with client_for(app) as client:
            for batch in range(10):
                ids = [f"p-{(offset + batch * 7 + i) % 60}" for i in range(10)]
                body = {"inputs": [person(pid, email=f"{pid}@x.test") for pid in ids]}
                answer = await client.post(UPSERT, json=body, headers=auth)
                if answer.status_code != 200:
                    failures.append(answer.status_code)

    threads = [
        threading.Thread(target=asyncio.run, args=(worker(offset),)) for offset in range(0, 60, 10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    stored = emulator.store.snapshot()
    assert sorted(c.properties[PERSON_ID] for c in stored) == sorted(f"p-{i}" for i in range(60))
    assert emulator.counters.get("POST", UPSERT) == 60


# served for real ----------------------------------------------------------------------------


@pytest.fixture
def served_url() -> Any:
    app = create_app(HubSpotEmulatorConfig(timeout_sleep_seconds=0.5), served=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="critical", lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield app.state.emulator, f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive()


def test_served_by_uvicorn_over_real_http(served_url: tuple[HubSpotEmulator, str]) -> None:
    emulator, url = served_url
    code = emulator.oauth.issue_code(
        client_id="crmsync-demo",
        redirect_uri=REDIRECT,
        scopes=SCOPES.split(),
        account_id=emulator.account_id,
        user=emulator.config.admin_email,
    )
    with httpx.Client(base_url=url, timeout=5) as client:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        tokens = client.post("/oauth/v1/token", data={**data, **CLIENT}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        created = client.post(
            "/crm/v3/objects/contacts", json={"properties": {"email": "wire@x.test"}}, headers=auth
        )
        assert created.status_code == 201
        assert created.headers["X-HubSpot-RateLimit-Max"] == "110"
        emulator.faults.configure(rates={"reset": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/crm/v3/owners", headers=auth)
        emulator.faults.configure(rates={"timeout_after": 1.0})
        with pytest.raises(httpx.ReadTimeout):
            client.patch(
                f"/crm/v3/objects/contacts/{created.json()['id']}",
                json={"properties": {"firstname": "Late"}},
                headers=auth,
                timeout=0.2,
            )
    assert emulator.find_contacts(email="wire@x.test")[0].properties["firstname"] == "Late"
