"""Drives the HubSpot emulator as a connector would: a portal connected through OAuth."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import httpx

from crmsync.emulation import ManualClock, pkce_challenge
from crmsync.providers.hubspot.emulator import HubSpotEmulator

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
