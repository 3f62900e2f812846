"""HubSpot two-way end to end: the emulator's signed webhooks reach crmsync's receiving route,
wake the connection, and the record they name is read back within the run, without waiting
for the schedule; forged and repeated calls change nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crmsync.db.tables import Change, InboundEvent
from crmsync.engine import inbound
from crmsync.service import create_product_app
from tests.support.world import World, world

TARGET = "http://crmsync.test/webhooks/hubspot"
SUBSCRIPTIONS = [("contact.creation", None), ("contact.propertyChange", "jobtitle")]


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test"})
        instance.connect("org1")
        instance.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
        instance.person("p1", title="Admiral")
        instance.unlock("org1", "p1", "u-admin")
        instance.drain()
        instance.harness.emulator.webhooks.configure(TARGET, SUBSCRIPTIONS)  # type: ignore[attr-defined]
        yield instance


def deliver(w: World) -> int:
    """The emulator sends what is due to crmsync's own app, in process."""
    app = create_product_app(w.rt)

    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://crmsync.test") as http:
            sent: int = await w.harness.emulator.webhooks.deliver(http)  # type: ignore[attr-defined]
            return sent

    return asyncio.run(send())


def feed(w: World) -> list[dict[str, object]]:
    with w.rt.db.session() as session:
        return [c.fields for c in session.scalars(select(Change).order_by(Change.seq))]


def test_a_webhook_brings_a_crm_edit_in_at_the_next_run_without_the_schedule(w: World) -> None:
    deliver(w)  # crmsync's own create: read again, equal to the shadow, nothing to tell
    (record,) = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "title", "Commodore")
    w.kicks.clear()
    assert deliver(w) >= 1
    assert w.kicks == [w.connection().id], "the call wakes the connection"
    w.drain()  # no "sync now", no schedule due: the hint alone makes the read due
    assert feed(w) == [{"title": "Commodore"}]
    with w.rt.db.session() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.processed_at.is_(None))
        )
    assert pending == 0


def test_a_forged_call_is_refused_and_keeps_nothing(w: World) -> None:
    body = b'[{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 5, "portalId": 1}]'
    r = w.api.post(
        "/webhooks/hubspot",
        content=body,
        headers={"X-HubSpot-Signature-v3": "forged", "X-HubSpot-Request-Timestamp": "1"},
    )
    assert r.status_code == 401
    with w.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundEvent)) == 0


def test_a_call_delivered_twice_is_kept_once(w: World) -> None:
    (record,) = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "title", "Captain")
    w.harness.emulator.webhooks.faults.duplicate = True  # type: ignore[attr-defined]
    deliver(w)
    with w.rt.db.session() as session:
        events = session.scalars(select(InboundEvent.event_id)).all()
    assert len(events) == len(set(events))
    w.drain()
    assert feed(w) == [{"title": "Captain"}]


def test_a_provider_without_webhooks_is_not_found(w: World) -> None:
    assert w.api.post("/webhooks/salesforce", content=b"[]").status_code == 404
    assert w.api.post("/webhooks/nope", content=b"[]").status_code == 404


def test_a_change_read_back_is_sent_to_the_hosts_webhook_by_the_same_task(w: World) -> None:
    """No wait for the sweep: the run that appended to the feed queues the delivery."""
    from huey import MemoryHuey

    from crmsync.engine.queue import create_queue

    received: list[bytes] = []

    def host(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        return httpx.Response(200)

    w.rt.webhook_transport = httpx.MockTransport(host)
    r = w.api.post("/api/v1/orgs/org1/webhooks", json={"url": "https://host.test/hooks"})
    assert r.status_code == 201, r.text
    queue = create_queue(w.rt, MemoryHuey(immediate=True))
    (record,) = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "title", "Vice Admiral")
    with w.rt.db.session() as session:
        inbound.request_sync(session, w.connection().id, full=False)
    queue.kick(w.connection().id)
    assert len(received) == 1 and b"Vice Admiral" in received[0]


def test_a_webhook_during_a_long_read_is_taken_before_the_read_ends(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full sync of many pages does not hold a webhook's change back until its end: the
    hints are taken between pages."""
    from dataclasses import replace

    from crmsync.providers.hubspot.connector import HubSpotConnector

    deliver(w)
    w.drain()
    (record,) = w.records_by_person()["p1"]
    real = HubSpotConnector.read_changes
    fed_before_each_page: list[list[dict[str, object]]] = []

    async def long_read(self: HubSpotConnector, cursor: str | None, fields: Any) -> Any:
        fed_before_each_page.append(feed(w))
        page = await real(self, cursor, fields)
        if len(fed_before_each_page) == 1:  # a CRM user edits, HubSpot calls, mid-read
            w.harness.manual_edit(record.crm_id, "title", "Fleet Admiral")
            transport = httpx.ASGITransport(app=create_product_app(w.rt))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://crmsync.test"
            ) as http:
                assert await w.harness.emulator.webhooks.deliver(http) == 1  # type: ignore[attr-defined]
            return replace(page, more=True)
        return page

    monkeypatch.setattr(HubSpotConnector, "read_changes", long_read)
    w.sync_back(full=True)
    assert fed_before_each_page[0] == []
    assert fed_before_each_page[1] == [{"title": "Fleet Admiral"}], "taken between pages"
