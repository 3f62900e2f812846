"""Authorisation and limits: rotating refresh tokens under concurrent workers, per-connection
login hosts and connected apps, and the daily API allocation as a pause."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from crmsync.connectors.base import RecordWrite
from crmsync.connectors.http import Allocations
from crmsync.db.session import Database
from crmsync.db.tables import WorkItem, naive_utc, utcnow
from crmsync.domain.enums import ConnectionStatus
from crmsync.emulation import TokenStatus
from crmsync.engine.connecting import open_connector
from crmsync.engine.tokens import ConnectionTokens
from crmsync.errors import InputError, RateLimited
from crmsync.providers.salesforce.allocation import MAX_SLEEP, Allocation
from crmsync.providers.salesforce.connector import SalesforceConnector
from tests.providers.salesforce.conftest import operations_of, org, set_connection_settings
from tests.support.world import World

TOKEN = ("POST", "/services/oauth2/token")
UPSERT = "/services/data/{version}/composite/sobjects/{sobject}/{field}"


def _worker_tokens(w: World, db: Database) -> ConnectionTokens:
    return ConnectionTokens(db, w.rt.vault, w.connection().id, w.rt.oauth_flow("salesforce"))


def test_rotation_survives_two_workers_refreshing_at_once(
    w_any_db: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = w_any_db
    w.connect("org1")
    oauth = org(w).oauth
    first_refresh = w.rt.vault.open(w.connection().token_ciphertext or b"")["refresh_token"]
    real = oauth.refresh

    def slow(**kwargs: Any) -> Any:  # the second worker arrives mid-refresh
        time.sleep(0.3)
        return real(**kwargs)

    monkeypatch.setattr(oauth, "refresh", slow)
    other_db = Database(w.rt.db.url)
    try:
        workers = [_worker_tokens(w, w.rt.db), _worker_tokens(w, other_db)]
        stale = workers[0].access_token
        calls = org(w).counters.get(*TOKEN)
        start = threading.Barrier(2)
        results: list[str] = []
        errors: list[BaseException] = []

        def work(tokens: ConnectionTokens) -> None:
            try:
                start.wait()
                results.append(asyncio.run(tokens.refresh(stale)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other_db.dispose()
    assert not errors, errors
    assert org(w).counters.get(*TOKEN) == calls + 1
    assert results[0] == results[1] != stale
    stored = w.rt.vault.open(w.connection().token_ciphertext or b"")
    assert stored["refresh_token"] != first_refresh, "the rotated refresh token is kept"
    assert oauth.get_refresh_token(first_refresh) is None, "the old one no longer works"
    assert stored["instance_url"] == "https://crmsync-demo.my.salesforce.com"
    assert oauth.check_access_token(results[0])[0] is TokenStatus.VALID

    org(w).oauth.expire_access_tokens()  # a later 401 refreshes with the rotated token
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert "p1" in w.records_by_person()
    assert w.status()["status"] == ConnectionStatus.CONNECTED


def test_an_expired_session_gets_salesforces_401_and_is_refreshed_once(w: World) -> None:
    w.connect("org1")
    version = w.connection().token_version
    org(w).oauth.expire_access_tokens()
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert "p1" in w.records_by_person()
    assert w.connection().token_version == version + 1


def test_an_org_that_moved_instance_is_followed_from_the_refreshed_token(w: World) -> None:
    """Every Salesforce token response names the org's instance; if a refresh names another
    (the org moved), later runs call the new host, and the stored setting says so."""
    w.connect("org1")
    assert w.connection().settings["instance_url"] == "https://crmsync-demo.my.salesforce.com"
    moved = "https://crmsync-moved.my.salesforce.com"
    hosts: list[str] = []
    app = w.harness.app

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            hosts.append(dict(scope["headers"])[b"host"].decode())
        await app(scope, receive, send)

    w.router.add(urlsplit(moved).hostname or "", recording)
    org(w).config.instance_url = moved
    org(w).oauth.expire_access_tokens()
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()  # the refresh happens mid-run: this run finishes on the host it started with
    settings = w.connection().settings
    assert settings["instance_url"] == moved
    assert settings["converted_leads"] == "update", "the other settings are kept"
    assert hosts == []

    w.person("p2")
    w.unlock("org1", "p2", "u-admin")
    w.drain()
    assert hosts and set(hosts) == {"crmsync-moved.my.salesforce.com"}
    assert {"p1", "p2"} <= set(w.records_by_person())


def test_a_sandbox_connection_authorises_and_refreshes_at_test_salesforce_com(w: World) -> None:
    hosts: list[str] = []
    app = w.harness.app

    async def recording(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            hosts.append(f"{headers[b'host'].decode()} {scope['method']} {scope['path']}")
        await app(scope, receive, send)

    w.router.add("test.salesforce.com", recording)
    r = w.api.post(
        "/api/v1/orgs/org1/connection",
        json={"provider": "salesforce", "options": {"login_host": "test"}},
    )
    assert r.status_code == 201, r.text
    url = r.json()["authorize_url"]
    assert url.startswith("https://test.salesforce.com/services/oauth2/authorize?")
    assert parse_qs(urlsplit(url).query)["scope"] == ["api refresh_token offline_access"]
    assert w.authorize(url)["status"] == ConnectionStatus.CONNECTED
    assert "test.salesforce.com POST /services/oauth2/token" in hosts
    hosts.clear()
    org(w).oauth.expire_access_tokens()
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert hosts == ["test.salesforce.com POST /services/oauth2/token"]
    assert "p1" in w.records_by_person()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"login_host": "evil.example.com"}, "My Domain host"),
        ({"client_id": "only-the-id"}, "go together"),
        ({"sandbox": "yes"}, "unknown Salesforce connection option"),
    ],
)
def test_bad_connection_options_are_refused(
    w: World, options: dict[str, str], message: str
) -> None:
    r = w.api.post(
        "/api/v1/orgs/org1/connection", json={"provider": "salesforce", "options": options}
    )
    assert r.status_code == 422
    assert message in r.text


def test_connection_options_become_oauth_overrides() -> None:
    overrides = SalesforceConnector.oauth_overrides(
        {
            "login_host": "Acme--UAT.sandbox.my.salesforce.com",
            "client_id": "id",
            "client_secret": "s",
        }
    )
    assert overrides == {
        "authorize_url": "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/authorize",
        "token_url": "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token",
        "client_id": "id",
        "client_secret": "s",
    }
    assert SalesforceConnector.oauth_overrides({}) == {}
    with pytest.raises(InputError):
        SalesforceConnector.oauth_overrides({"login_host": "acme.my.salesforce.com.evil.test"})


def test_the_daily_limit_pauses_the_work_until_the_next_window(w: World) -> None:
    w.connect("org1")
    set_connection_settings(w, api_pause_probe_seconds=900)
    used = org(w).allocation.used(org(w).org_id)
    org(w).allocation.configure(max_requests=used + 2)  # the setup check and the owner list
    assert used == 1
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    started = naive_utc(utcnow())
    w.runner.run(w.connection().id, budget_seconds=30)
    [op] = operations_of(w)
    assert op.status == "retrying"
    assert "daily API allocation is nearly used (3 of 3)" in op.reason
    with w.rt.db.session() as session:
        [item] = session.scalars(select(WorkItem)).all()
    assert item.attempts == 0, "a pause is not a failed attempt"
    wait = (naive_utc(item.not_before) - started).total_seconds()
    assert 0 < wait <= 901
    assert w.status()["status"] == ConnectionStatus.CONNECTED


def test_usage_near_the_share_slows_down_then_pauses() -> None:
    now = [86_400.0 * 100 + 3_600.0]  # 23 hours before the window turns
    allocation = Allocation(clock=lambda: now[0])
    allocation.configure(share=0.9, window=86_400.0, probe=3_600.0)

    def answer(used: int) -> httpx.Response:
        return httpx.Response(200, headers={"Sforce-Limit-Info": f"api-usage={used}/100000"})

    allocation.observe(answer(50_000))
    assert allocation.wait() == 0.0
    allocation.observe(answer(95_000))
    assert allocation.wait() == pytest.approx(82_800 / 5_000)
    allocation.observe(answer(99_999))
    assert allocation.wait() > MAX_SLEEP
    with pytest.raises(RateLimited) as raised:
        asyncio.run(allocation.before_request())
    assert raised.value.resolution.retry_after == 3_600.0


def test_the_connector_reads_the_usage_header_into_the_runtimes_allocation(w: World) -> None:
    w.connect("org1")
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    seen = w.rt.allocations.for_account(f"salesforce:{w.connection().account_id}", Allocation)
    assert (seen.used, seen.limit) == (org(w).allocation.used(org(w).org_id), 100_000)


def test_a_403_request_limit_exceeded_pauses_and_spares_further_calls(w: World) -> None:
    w.connect("org1")
    set_connection_settings(w, api_pause_probe_seconds=900)
    emulator = org(w)
    emulator.allocation.configure(max_requests=emulator.allocation.used(emulator.org_id))
    write = RecordWrite("p1", {"LastName": "L"})

    async def push_twice() -> list[RateLimited]:
        raised: list[RateLimited] = []
        async with open_connector(w.rt, w.connection()) as connector:
            for _ in range(2):
                with pytest.raises(RateLimited) as caught:
                    await connector.push([write])
                raised.append(caught.value)
        return raised

    first, second = asyncio.run(push_twice())
    assert first.resolution.code == "REQUEST_LIMIT_EXCEEDED"
    assert "TotalRequests Limit exceeded" in first.resolution.reason
    assert 0 < (first.resolution.retry_after or 0) <= 900
    assert "waiting for the next window" in second.resolution.reason
    assert emulator.counters.get("PATCH", UPSERT) == 1, "the second push never left crmsync"


def test_two_runtimes_share_no_allocation() -> None:
    """Process state lives in the runtime: another runtime (another test) starts fresh."""
    first, second = Allocations(), Allocations()
    seen = first.for_account("salesforce:org-1", Allocation)
    assert first.for_account("salesforce:org-1", Allocation) is seen
    assert second.for_account("salesforce:org-1", Allocation) is not seen
    assert first.for_account("salesforce:org-2", Allocation) is not seen
