"""The HubSpot emulator under traffic: search, rate limits, faults, counters, controls, and
served over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import httpx
import pytest
import uvicorn

from crmsync.providers.hubspot.emulator import HubSpotEmulator, HubSpotEmulatorConfig, create_app
from tests.providers.hubspot.hubspot_portal import (
    CLIENT,
    PERSON_ID,
    REDIRECT,
    SCOPES,
    UPSERT,
    Portal,
    client_for,
    person,
)

pytestmark = pytest.mark.anyio

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
