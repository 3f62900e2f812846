"""Engine hooks some CRMs need: connection options, a setup step, bulk backfills.

They are exercised through the HubSpot connector with the provider behaviour patched in, so
the engine's side is proven independently of the connectors that use them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crmsync.connectors.base import RecordWrite, SetupReport, WriteOutcome
from crmsync.db.tables import OAuthState
from crmsync.providers.hubspot.connector import HubSpotConnector
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        instance.org("org1", {"u1": "owner@acme.test"})
        yield instance


def test_a_provider_without_options_rejects_them_and_writes_nothing(w: World) -> None:
    r = w.api.post(
        "/api/v1/orgs/org1/connection",
        json={"provider": "hubspot", "options": {"login_host": "test"}},
    )
    assert r.status_code == 422
    assert "takes no connection options" in r.json()["detail"]
    with w.rt.db.session() as session:
        assert session.scalars(select(OAuthState)).all() == []


def test_connection_options_shape_the_authorisation_and_stay_encrypted(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def overrides(cls: type, options: dict[str, str]) -> dict[str, Any]:
        return {"client_id": options["client_id"], "client_secret": options["client_secret"]}

    monkeypatch.setattr(HubSpotConnector, "oauth_overrides", classmethod(overrides))
    options = {"client_id": "orgs-own-app", "client_secret": "s3cret-of-the-org"}
    r = w.api.post("/api/v1/orgs/org1/connection", json={"provider": "hubspot", "options": options})
    assert r.status_code == 201
    assert "client_id=orgs-own-app" in r.json()["authorize_url"]
    with w.rt.db.session() as session:
        [state] = session.scalars(select(OAuthState)).all()
        assert "s3cret-of-the-org" not in repr(state.options)
        assert w.rt.open_options(state.options["provider_options"]) == options


def test_sync_waits_for_setup_until_the_admin_lets_crmsync_create_fields(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = HubSpotConnector.ensure_setup

    async def ensure_setup(self: HubSpotConnector) -> SetupReport:
        if not self.ctx.settings.get("create_missing_fields"):
            return SetupReport(False, missing=("acme_person_id",), message="install the app")
        return await real(self)

    monkeypatch.setattr(HubSpotConnector, "ensure_setup", ensure_setup)
    status = w.connect("org1")
    assert status["status"] == "setup_required"
    assert status["setup"]["missing"] == ["acme_person_id"]
    w.person("p1")
    w.unlock("org1", "p1", "u1")
    w.drain()
    assert w.harness.records() == []
    r = w.api.post("/api/v1/orgs/org1/connection/setup", json={"create_missing_fields": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "connected"
    w.drain()
    assert sorted(w.records_by_person()) == ["p1"]


def test_a_large_backfill_goes_as_one_bulk_job_while_live_unlocks_keep_flowing(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = dataclasses.replace(HubSpotConnector.spec, bulk_threshold=50, bulk_max=100)
    monkeypatch.setattr(HubSpotConnector, "spec", spec)
    jobs: list[int] = []
    live_pushed = asyncio.Event()
    real_push = HubSpotConnector.push

    async def push(self: HubSpotConnector, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        if any(wr.local_id.startswith("live") for wr in writes):
            live_pushed.set()
        return await real_push(self, writes)

    async def push_bulk(
        self: HubSpotConnector,
        writes: Sequence[RecordWrite],
        heartbeat: Callable[[], Awaitable[None]],
    ) -> list[WriteOutcome]:
        jobs.append(len(writes))
        await heartbeat()
        await asyncio.wait_for(live_pushed.wait(), timeout=10)  # the job waits on the CRM
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(writes), 100):
            outcomes += await real_push(self, writes[start : start + 100])
        return outcomes

    monkeypatch.setattr(HubSpotConnector, "push", push)
    monkeypatch.setattr(HubSpotConnector, "push_bulk", push_bulk)
    for i in range(120):
        w.person(f"b{i:03d}")
        w.unlock("org1", f"b{i:03d}", "u1")
    w.connect("org1")
    w.person("live1")
    w.unlock("org1", "live1", "u1")
    w.drain()
    assert jobs == [100], "one job of bulk_max people; the remaining 20 go in batches"
    records = w.records_by_person()
    assert len(records) == 121 and all(len(found) == 1 for found in records.values())
    assert {op["status"] for op in w.operations()} == {"inserted"}


def test_bulk_jobs_overlap_up_to_bulk_parallel_with_disjoint_people(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the CRM processes one job the next is planned and sent: two are open at once,
    they never share a person, and every person lands exactly once."""
    spec = dataclasses.replace(
        HubSpotConnector.spec, bulk_threshold=50, bulk_max=100, bulk_parallel=2
    )
    monkeypatch.setattr(HubSpotConnector, "spec", spec)
    jobs: list[set[str]] = []
    open_jobs: list[int] = []
    both_open = asyncio.Event()
    real_push = HubSpotConnector.push

    async def push_bulk(
        self: HubSpotConnector,
        writes: Sequence[RecordWrite],
        heartbeat: Callable[[], Awaitable[None]],
    ) -> list[WriteOutcome]:
        jobs.append({wr.local_id for wr in writes})
        open_jobs.append(1)
        if len(open_jobs) >= 2:
            both_open.set()
        await heartbeat()
        await asyncio.wait_for(both_open.wait(), timeout=20)  # held until a second job opens
        outcomes: list[WriteOutcome] = []
        for start in range(0, len(writes), 100):
            outcomes += await real_push(self, writes[start : start + 100])
        open_jobs.pop()
        return outcomes

    monkeypatch.setattr(HubSpotConnector, "push_bulk", push_bulk)
    for i in range(250):
        w.person(f"b{i:03d}")
        w.unlock("org1", f"b{i:03d}", "u1")
    w.connect("org1")
    w.drain()
    assert both_open.is_set(), "the second job opened while the first was in the CRM"
    assert [len(job) for job in jobs[:2]] == [100, 100]
    assert not jobs[0] & jobs[1], "jobs never share a person"
    records = w.records_by_person()
    assert len(records) == 250 and all(len(found) == 1 for found in records.values())
    assert {op["status"] for op in w.operations()} == {"inserted"}


def test_a_provider_without_settings_refuses_them(w: World) -> None:
    w.connect("org1")
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": {"converted_leads": "x"}})
    assert r.status_code == 422
    assert "has no connection settings" in r.json()["detail"]
