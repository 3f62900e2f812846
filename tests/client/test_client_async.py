"""Every method of ``AsyncClient`` against the real host API over ``httpx.ASGITransport``,
checked by what the service stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from crmsync.api.app import create_app
from crmsync.client import AsyncClient, CustomField, NotFound, ObjectMapping, Person, Unlock
from crmsync.db.tables import Person as PersonRow
from crmsync.db.tables import User as UserRow
from crmsync.db.tables import WorkItem
from crmsync.providers.close.emulator.harness import CloseHarness
from tests.client.conftest import METRICS_TOKEN, async_client, mark_failed
from tests.support.world import World, world


def _run(app: FastAPI, scenario: Callable[[AsyncClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with async_client(app) as client:
            await scenario(client)

    asyncio.run(main())


async def _team(client: AsyncClient) -> None:
    await client.create_org("Acme Inc", id="org1")
    await client.create_user("org1", "admin@acme.test", id="u1", role="admin")


def test_people_orgs_and_users_are_stored(w: World, app: FastAPI) -> None:
    async def scenario(client: AsyncClient) -> None:
        await _team(client)
        saved = await client.put_person("p1", Person(first_name="Ada", emails=["a@example.com"]))
        batch = await client.put_people({"p2": Person(first_name="Grace")})
        user = await client.update_user("org1", "u1", disabled=True)
        assert (saved.person_id, batch.created, user.disabled) == ("p1", 1, True)

    _run(app, scenario)
    with w.rt.db.session() as session:
        names = {p.person_id: p.first_name for p in session.scalars(select(PersonRow))}
        assert names == {"p1": "Ada", "p2": "Grace"}
        assert session.get_one(UserRow, "u1").disabled is True


def test_a_connected_org_syncs_and_its_log_is_walked(w: World, app: FastAPI) -> None:
    async def connect(client: AsyncClient) -> None:
        await _team(client)
        await asyncio.to_thread(
            w.authorize, (await client.connect("org1", "hubspot")).authorize_url
        )
        await client.put_people({f"p{i}": Person(first_name=f"P{i}") for i in range(3)})
        one = await client.unlock("org1", "p0", unlocked_by="u1")
        many = await client.unlock_many(
            "org1", [Unlock(person_id=p, unlocked_by="u1") for p in ("p1", "p2")]
        )
        assert (one.accepted, many.accepted) == (1, 2)

    async def check(client: AsyncClient) -> None:
        connection = await client.get_connection("org1")
        assert (connection.status, connection.counts.synced) == ("connected", 3)
        sync = await client.person_sync("org1", "p0")
        assert sync.crm_id == w.records_by_person()["p0"][0].crm_id
        page = await client.list_operations("org1", limit=500)
        walked = [op async for op in client.iter_operations("org1", page_size=2)]
        assert [op.id for op in walked] == [op.id for op in page] and len(page) == 3

    _run(app, connect)
    w.drain()
    _run(app, check)


def test_connection_changes_retries_and_disconnect(w: World, app: FastAPI) -> None:
    async def scenario(client: AsyncClient) -> None:
        await _team(client)
        await asyncio.to_thread(
            w.authorize, (await client.connect("org1", "hubspot")).authorize_url
        )
        await client.put_person("p1", Person(first_name="Ada"))
        await client.unlock("org1", "p1", unlocked_by="u1")
        await asyncio.to_thread(w.drain)
        assert (await client.update_connection("org1", preserve_manual_edits=True)).id
        assert (await client.check_setup("org1")).preserve_manual_edits is True
        await asyncio.to_thread(w.authorize, (await client.reconnect("org1")).authorize_url)

        mark_failed(w, "p1")
        [failed] = await client.list_operations("org1", status="failed")
        assert "queued for retry" in (await client.retry_operation("org1", failed.id)).detail
        assert (await client.retry_failed("org1")).detail.startswith("1 failed")
        with w.rt.db.session() as session:
            assert list(session.scalars(select(WorkItem.local_id))) == ["p1"]

        assert "disconnected" in (await client.disconnect("org1")).detail
        try:
            await client.get_connection("org1")
        except NotFound as exc:
            assert exc.message == "organisation 'org1' has no CRM connection"
        else:
            raise AssertionError("a disconnected org has no connection")

    _run(app, scenario)


def test_health_readiness_and_metrics(app: FastAPI) -> None:
    async def scenario(client: AsyncClient) -> None:
        assert (await client.health()).status == "ok"
        assert (await client.readiness()).status == "ready"
        assert "crmsync" in await client.metrics(METRICS_TOKEN)

    _run(app, scenario)


def test_an_api_key_connects_a_crm_that_takes_one(sqlite_url: str, tmp_path: Path) -> None:
    with world(sqlite_url, tmp_path, "close") as w:
        assert isinstance(w.harness, CloseHarness)
        key = w.harness.emulator.config.api_key

        async def scenario(client: AsyncClient) -> None:
            await _team(client)
            connection = await client.connect_with_api_key("org1", "close", key)
            assert (connection.provider, connection.status) == ("close", "connected")

        _run(create_app(w.rt), scenario)
        assert w.connection().provider == "close"


def test_an_own_http_client_is_left_open(app: FastAPI) -> None:
    async def main() -> bool:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x")
        async with AsyncClient(http=http, api_key="k"):
            pass
        closed = http.is_closed
        await http.aclose()
        return closed

    assert asyncio.run(main()) is False


def test_fields_and_mappings_are_read_and_saved(w: World, app: FastAPI) -> None:
    async def scenario(client: AsyncClient) -> None:
        await _team(client)
        authorization = await client.connect("org1", "hubspot", skip_backfill=True)
        await asyncio.to_thread(w.authorize, authorization.authorize_url)
        declared = [CustomField(name="rating", label="R", type="picklist", options=["Hot"])]
        await client.save_app_fields("org1", declared)
        assert "rating" in {f.name for f in await client.list_app_fields("org1")}
        assert (await client.crm_fields("org1")).checked
        (contact,) = (await client.get_mappings("org1")).objects
        sent = [f.sent() for f in contact.fields if f.app_field != "city"]
        saved = await client.save_mappings(
            "org1", [ObjectMapping(local_object="contact", fields=sent)], changed_by="u1"
        )
        assert [(c.app_field, c.change) for c in saved.changes] == [("city", "removed")]

    _run(app, scenario)
