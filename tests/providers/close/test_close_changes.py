"""The Close connector's change feed against an in-process emulator whose clock the test moves:
echoes of crmsync's own key, consolidated events read again, a 30-day gap, merges."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from crmsync.connectors.base import AppNames, ConnectorContext
from crmsync.connectors.spec import RateLimitSpec
from crmsync.domain.records import ChangeKind, ChangePage
from crmsync.emulation import ManualClock
from crmsync.providers.close.connector import CloseConnector
from crmsync.providers.close.emulator import CloseEmulator, CloseEmulatorConfig, create_app
from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.spec import SPEC

pytestmark = pytest.mark.anyio
UNPACED = replace(SPEC, rate_limit=RateLimitSpec(requests=1_000_000, per_seconds=1.0))
FIELDS = ["contact.title", "custom.Acme Person ID"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Feed:
    def __init__(self, **settings: str) -> None:
        self.clock = ManualClock()
        config = CloseEmulatorConfig(rate_limit_enabled=False, clock=self.clock)
        app = create_app(config)
        self.emulator: CloseEmulator = app.state.emulator
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=SPEC.api_base,
            auth=CloseConnector.api_key_auth(config.api_key),
        )
        ctx = ConnectorContext(
            UNPACED, http, AppNames("Acme", "acme"), self.emulator.organization_id, settings
        )
        self.connector = CloseConnector(ctx)
        self.cursor: str | None = None

    @property
    def org(self) -> str:
        return self.emulator.organization_id

    async def read(self) -> ChangePage:
        page = await self.connector.read_changes(self.cursor, FIELDS)
        self.cursor = page.cursor
        return page

    def by_hand(self, contact_id: str, title: str) -> None:
        store = self.emulator.store
        store.update_contact(self.org, contact_id, {"title": title}, store.admin.id)


async def created(feed: Feed, name: str) -> str:
    await feed.connector.ensure_setup()
    lead = await feed.connector.client.create_lead({"name": name, "contacts": [{"name": name}]})
    return str(lead["contacts"][0]["id"])


async def test_crmsyncs_own_key_marks_echoes_and_a_users_edit_is_not_one() -> None:
    feed = Feed(api_key_id=CloseEmulatorConfig().api_key_id)
    contact = await created(feed, "Grace")
    await feed.read()
    await feed.read()
    feed.clock.advance(60)
    await feed.connector.client.update_contact(contact, {"title": "Ours"})
    [ours] = (await feed.read()).changes
    assert ours.echo and ours.origin == f"api_key:{CloseEmulatorConfig().api_key_id}"
    assert ours.changed_fields == frozenset({"contact.title"})
    feed.clock.advance(60)
    feed.by_hand(contact, "Theirs")
    [theirs] = (await feed.read()).changes
    assert not theirs.echo and theirs.origin == f"user:{feed.emulator.store.admin.id}"
    assert theirs.record is not None and theirs.record.fields["contact.title"] == "Theirs"


async def test_without_a_marker_nothing_is_claimed_as_an_echo() -> None:
    feed = Feed()
    contact = await created(feed, "Ada")
    await feed.read()
    await feed.read()
    feed.clock.advance(60)
    await feed.connector.client.update_contact(contact, {"title": "Ours"})
    assert [c.echo for c in (await feed.read()).changes] == [False]


async def test_a_consolidated_event_is_read_again_and_a_quiet_read_is_empty() -> None:
    feed = Feed()
    contact = await created(feed, "Grace")
    await feed.read()
    await feed.read()
    feed.clock.advance(60)
    feed.by_hand(contact, "First")
    [first] = (await feed.read()).changes
    feed.clock.advance(10)  # within Close's window: the same event, a later date_updated
    feed.by_hand(contact, "Second")
    [again] = (await feed.read()).changes
    assert again.record is not None and again.record.fields["contact.title"] == "Second"
    assert again.stamp > first.stamp
    assert (await feed.read()).changes == []


async def test_a_cursor_older_than_30_days_asks_for_a_full_sync() -> None:
    feed = Feed()
    await created(feed, "Grace")
    await feed.read()
    stale = (await feed.read()).cursor
    feed.clock.advance(29 * 24 * 3600)
    covered = await feed.connector.read_changes(stale, FIELDS)
    assert not covered.full_sync_needed
    feed.clock.advance(2 * 24 * 3600)
    gap = await feed.connector.read_changes(stale, FIELDS)
    assert gap.full_sync_needed and gap.cursor is None and gap.changes == []
    listed = await feed.connector.read_changes(None, FIELDS)
    assert [c.kind for c in listed.changes] == [ChangeKind.UPSERTED]


async def test_a_merge_reports_the_moved_contacts_as_upserts_under_their_ids() -> None:
    feed = Feed()
    keep, dup = await created(feed, "Keep"), await created(feed, "Dup")
    await feed.read()
    await feed.read()
    feed.clock.advance(60)
    store = feed.emulator.store
    source, destination = store.lead_of(feed.org, dup), store.lead_of(feed.org, keep)
    store.merge_leads(feed.org, source, destination, Actor(store.admin.id))
    changes = (await feed.read()).changes
    assert {(c.kind, c.crm_id) for c in changes} == {
        (ChangeKind.UPSERTED, keep),
        (ChangeKind.UPSERTED, dup),
    }


async def test_a_deleted_contact_is_a_tombstone() -> None:
    feed = Feed()
    contact = await created(feed, "Gone")
    await feed.read()
    await feed.read()
    feed.clock.advance(60)
    feed.emulator.store.delete_contact(feed.org, contact)
    [gone] = (await feed.read()).changes
    assert gone.kind is ChangeKind.DELETED and gone.crm_id == contact
    assert gone.record is not None and gone.record.archived


async def test_a_backlog_longer_than_a_read_holds_is_read_in_windows_oldest_first() -> None:
    feed = Feed()
    await created(feed, "First")
    await feed.read()
    await feed.read()
    store, made = feed.emulator.store, []
    for n in range(3_000):  # 60 pages of events: more than one read scans (50)
        feed.clock.advance(1)
        lead = {"name": f"L{n}", "contacts": [{"name": f"C {n}"}]}
        made.append(store.create_lead(feed.org, lead, store.admin.id)["contacts"][0]["id"])
    feed.clock.advance(600)
    counters, changes, reads = feed.emulator.counters, [], 0
    while True:
        before = counters.get("GET", "/api/v1/event/")
        page = await feed.read()
        assert counters.get("GET", "/api/v1/event/") - before <= 52, "a bounded scan"
        changes += page.changes
        reads += 1
        if not page.more:
            break
    assert reads > 1
    assert [c.crm_id for c in changes] == made, "each once, oldest first"
    assert (await feed.read()).changes == []
