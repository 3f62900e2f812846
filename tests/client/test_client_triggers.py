"""The push triggers through the sync and async clients: the manual push, a score, a to-do and
the connection's push switches, checked by what the service stored and the CRM holds."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from crmsync.client import Client, Forbidden, InvalidInput, NotFound, Person
from crmsync.db.tables import WorkItem
from tests.client.conftest import async_client
from tests.support.world import World


def _queued(w: World) -> list[tuple[str, str]]:
    with w.rt.db.session() as session:
        return [(i.local_id, i.lane) for i in session.scalars(select(WorkItem)).all()]


def _connected(w: World, client: Client) -> None:
    client.create_org("Acme Inc", id="org1")
    client.create_user("org1", "admin@acme.test", id="u1", role="admin")
    client.create_user("org1", "member@acme.test", id="u2")
    w.authorize(client.connect("org1", "hubspot").authorize_url)
    client.put_person("p1", Person(first_name="Ada", emails=["ada@example.com"]))


def test_the_switches_and_every_trigger(w: World, client: Client) -> None:
    _connected(w, client)
    crm_admin = w.harness.add_user("admin@acme.test", "Ann", "Admin")
    changed = client.update_connection(
        "org1", push_enabled=False, push_on_unlock=False, push_score_threshold=50
    )
    assert (changed.push.enabled, changed.push.on_unlock, changed.push.score_threshold) == (
        False,
        False,
        50,
    )
    with pytest.raises(Forbidden):
        client.update_connection("org1", push_enabled=True, changed_by="u2")
    client.unlock("org1", "p1", unlocked_by="u2")
    assert _queued(w) == []  # the unlock trigger is off
    assert client.report_score("org1", "p1", 49).queued is False
    assert client.report_score("org1", "p1", 50).queued is True
    todo = client.assign_todo("org1", "p1", "u1")
    assert todo.queued is True and "pushes are switched off" in todo.detail
    assert client.push_person("org1", "p1").queued is True
    w.drain()
    assert w.records_by_person() == {}  # paused: nothing went
    assert client.update_connection("org1", push_enabled=True, changed_by="u1").push.enabled
    w.drain()
    [record] = w.records_by_person()["p1"]
    assert record.owner_id == crm_admin
    off = client.update_connection("org1", push_score_threshold="off")
    assert off.push.score_threshold is None
    assert client.get_connection("org1").push.score_threshold is None
    with pytest.raises(InvalidInput, match="'u9' is not a member"):
        client.assign_todo("org1", "p1", "u9")
    with pytest.raises(NotFound):
        client.push_person("org1", "nobody")


def test_the_async_client_pushes_scores_and_assigns(w: World, client: Client, app: FastAPI) -> None:
    _connected(w, client)
    client.unlock("org1", "p1", unlocked_by="u2")
    w.drain()

    async def scenario() -> None:
        async with async_client(app) as crmsync:
            state = await crmsync.update_connection("org1", push_score_threshold=10)
            assert state.push.score_threshold == 10
            assert (await crmsync.push_person("org1", "p1")).queued is True
            assert (await crmsync.report_score("org1", "p1", 11)).queued is True
            assert (await crmsync.assign_todo("org1", "p1", "u1")).queued is True
            with pytest.raises(NotFound):
                await crmsync.report_score("org1", "nobody", 1)

    asyncio.run(scenario())
    assert _queued(w) == [("p1", "live")]
