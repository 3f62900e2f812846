"""The client's two-way sync calls against the real API: feed, webhooks, records."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from crmsync.client import Client, InvalidInput, NotFound
from crmsync.domain.enums import FeedKind
from crmsync.engine import feed
from tests.client.conftest import async_client
from tests.support.world import World


def _append(w: World, record_id: str) -> int:
    return w.rt.db.transaction(
        lambda session: feed.append(
            session,
            org_id="org1",
            connection_id=None,
            entity="contact",
            record_id=record_id,
            kind=FeedKind.CREATED,
            fields={"first_name": "Ada"},
            owner={"user_id": None, "crm_user_email": None},
        )
    )


def test_sync_client_pages_the_feed_and_manages_webhooks(w: World, client: Client) -> None:
    w.org("org1", {"u1": "u1@acme.test"})
    hook = client.create_webhook("org1", "https://host.test/hook")
    seq = _append(w, "p1")
    page = client.list_changes("org1")
    assert [c.seq for c in page.changes] == [seq] and page.next == seq
    assert page.changes[0].person_id == "p1" and page.changes[0].kind == "created"
    assert client.list_changes("org1", after=page.next).changes == []
    assert client.list_webhooks("org1") == [hook]
    [pending] = client.list_deliveries("org1", hook.id)
    assert pending.status == "pending" and pending.change_seq == seq
    assert client.delete_webhook("org1", hook.id).pending_dropped == 1
    with pytest.raises(InvalidInput):
        client.create_webhook("org1", "http://host.test/hook")
    with pytest.raises(NotFound):
        client.get_record("org1", "contact", "p1")


def test_async_client_reads_a_record_view(w: World, app: FastAPI) -> None:
    w.org("org1", {"u1": "u1@acme.test"})
    w.person("p1")
    w.unlock("org1", "p1", "u1")

    async def main() -> tuple[bool, int]:
        crmsync = async_client(app)
        try:
            record = await crmsync.get_record("org1", "contact", "p1")
            page = await crmsync.list_changes("org1", limit=5)
            return record.active, page.next
        finally:
            await crmsync.aclose()

    assert asyncio.run(main()) == (True, 0)
