"""An organisation's own OAuth app ("bring your own app"): every CRM that lets a customer
register an app connects, pushes, refreshes and reconnects with that app's credentials, and the
refresh-token policies that cannot work are the ones the docs name.

The CRM side is the emulator's: the app is registered there as a customer would in the CRM's
developer settings, with crmsync's callback URL, and tokens issued to one app are refused to
another, so a refresh sent with crmsync's built-in app would turn the connection red.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from crmsync.connectors.spec import OWN_APP_OPTIONS
from crmsync.db.tables import Connection, OAuthState
from crmsync.domain.enums import ConnectionStatus
from crmsync.emulation import OAuthApp, RefreshPolicy
from tests.support.world import World

OWN_ID, OWN_SECRET = "acme-own-app", "acme-own-secret-7f3c"


@pytest.fixture
def own(team: World) -> World:
    """The team's org, on a CRM that lets customers register apps, with the app registered
    for crmsync's callback URL."""
    connector = team.rt.provider(team.provider).connector
    if not set(OWN_APP_OPTIONS) <= set(connector.connection_options):
        pytest.skip(f"{team.provider} takes no app of the organisation's own")
    register(team, RefreshPolicy.UNTIL_REVOKED)
    return team


def register(w: World, policy: RefreshPolicy, callback: str | None = None) -> None:
    callback = callback or w.rt.redirect_uri(w.provider)
    w.harness.register_app(OAuthApp(OWN_ID, OWN_SECRET, policy, redirect_uris=(callback,)))


def connect_own(w: World) -> dict[str, object]:
    r = w.api.post(
        "/api/v1/orgs/org1/connection",
        json={
            "provider": w.provider,
            "options": {"client_id": OWN_ID, "client_secret": OWN_SECRET},
        },
    )
    assert r.status_code == 201, r.text
    url = r.json()["authorize_url"]
    assert parse_qs(urlsplit(url).query)["client_id"] == [OWN_ID]
    return w.authorize(url)


def test_an_org_connects_pushes_and_refreshes_through_its_own_app(own: World) -> None:
    assert connect_own(own)["status"] == ConnectionStatus.CONNECTED
    own.person("p1", title="Engineer")
    own.unlock("org1", "p1", "u-admin")
    own.drain()
    own.harness.expire_access_tokens()  # the next call refreshes, with the org's own app
    own.person("p1", title="Chief Engineer")
    own.drain()
    records = own.records_by_person()["p1"]
    assert [r.values["title"] for r in records] == ["Chief Engineer"]
    assert own.status()["status"] == ConnectionStatus.CONNECTED


def test_the_app_secret_is_stored_sealed(own: World) -> None:
    connect_own(own)
    with own.rt.db.session() as session:
        stored = [json.dumps(c.settings) for c in session.scalars(select(Connection))]
        stored += [json.dumps(s.options) for s in session.scalars(select(OAuthState))]
    assert stored
    assert not any(OWN_SECRET in text for text in stored)


def test_an_app_registered_with_another_callback_is_refused_by_the_crm(own: World) -> None:
    register(own, RefreshPolicy.UNTIL_REVOKED, callback="https://elsewhere.test/callback")
    r = own.api.post(
        "/api/v1/orgs/org1/connection",
        json={
            "provider": own.provider,
            "options": {"client_id": OWN_ID, "client_secret": OWN_SECRET},
        },
    )
    page = asyncio.run(_get(own, r.json()["authorize_url"]))
    assert page.status_code == 400
    assert own.api.get("/api/v1/orgs/org1/connection").status_code == 404


async def _get(w: World, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=w.router) as client:
        return await client.get(url)


def test_refresh_tokens_that_expire_immediately_pause_the_org_until_it_reconnects(
    own: World,
) -> None:
    """The one policy the docs say cannot work: every refresh is refused, so the connection
    pauses at the first expired access token; nothing is lost, and once the app's policy is
    changed a reconnect (with the same app) sends what waited, once."""
    register(own, RefreshPolicy.IMMEDIATELY)
    connect_own(own)
    own.person("p1")
    own.unlock("org1", "p1", "u-admin")
    own.drain()
    own.harness.expire_access_tokens()
    own.person("p2")
    own.unlock("org1", "p2", "u-admin")
    own.drain()
    assert own.status()["status"] == ConnectionStatus.NEEDS_RECONNECT
    assert sorted(own.records_by_person()) == ["p1"]
    register(own, RefreshPolicy.UNTIL_REVOKED)
    r = own.api.post("/api/v1/orgs/org1/connection/reconnect")
    assert r.status_code == 201, r.text
    assert parse_qs(urlsplit(r.json()["authorize_url"]).query)["client_id"] == [OWN_ID]
    assert own.authorize(r.json()["authorize_url"])["status"] == ConnectionStatus.CONNECTED
    own.drain()
    records = own.records_by_person()
    assert sorted(records) == ["p1", "p2"]
    assert all(len(found) == 1 for found in records.values())


def test_the_providers_route_names_the_callback_url_and_the_options(own: World) -> None:
    r = own.api.get("/api/v1/providers")
    assert r.status_code == 200, r.text
    [found] = [p for p in r.json() if p["name"] == own.provider]
    assert found["callback_url"] == own.rt.redirect_uri(own.provider)
    assert found["own_app"] is True
    assert set(OWN_APP_OPTIONS) <= set(found["connection_options"])
