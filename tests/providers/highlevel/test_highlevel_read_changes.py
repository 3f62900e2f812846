"""The HighLevel connector's read half against the in-process emulator, on a clock the test
moves: the overlap window that covers the search index's delay, ``searchAfter`` through a
backlog past 10,000, crmsync's own writes marked as echoes, ``assignedTo`` read back, and the
location's daily allowance shared by reading and writing (slow down near the share, pause
before it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import httpx
import pytest

from crmsync.connectors.base import AppNames, ConnectorContext
from crmsync.connectors.http import Allocations
from crmsync.connectors.spec import RateLimitSpec
from crmsync.domain.records import Change, ChangeKind
from crmsync.domain.writes import RecordWrite
from crmsync.emulation import ManualClock
from crmsync.errors import RateLimited
from crmsync.providers.highlevel.allocation import HighLevelAllocation
from crmsync.providers.highlevel.changes import EDGE_CAP
from crmsync.providers.highlevel.connector import HighLevelConnector
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.records import ContactInput
from crmsync.providers.highlevel.spec import SPEC
from tests.providers.highlevel.test_highlevel_emulator import Agency

T = TypeVar("T")
FIELDS = ["firstName", "lastName", "assignedTo"]
UNPACED = replace(SPEC, rate_limit=RateLimitSpec(requests=1_000_000, per_seconds=1.0))
"""The emulator's clock is the test's: no real-time pacing either."""


class Feed:
    """A connector on the agency's first location, and the cursor it has read to."""

    def __init__(self, agency: Agency, token: str, **settings: Any) -> None:
        self.agency = agency
        self.token = token
        self.settings = settings
        self.allocations = Allocations()
        """The process's per-location state: the daily allowance, crmsync's own writes."""
        self.cursor: str | None = None

    @property
    def location(self) -> str:
        return self.agency.locations[0]

    def run(self, use: Callable[[HighLevelConnector], Awaitable[T]]) -> T:
        async def go() -> T:
            transport = httpx.ASGITransport(app=self.agency.app)
            headers = {"Authorization": f"Bearer {self.token}"}
            async with httpx.AsyncClient(
                transport=transport, base_url=SPEC.api_base, headers=headers
            ) as http:
                context = ConnectorContext(
                    UNPACED,
                    http,
                    AppNames("Acme", "acme"),
                    account_id=self.location,
                    settings={"location_id": self.location, **self.settings},
                    allocations=self.allocations,
                )
                return await use(HighLevelConnector(context))

        return asyncio.run(go())

    def drain(self, fields: list[str] = FIELDS) -> tuple[list[Change], int]:
        """Read until HighLevel has nothing more now: the changes and the pages it took."""
        changes: list[Change] = []
        for pages in range(1, 200):
            page = self.run(lambda c: c.read_changes(self.cursor, fields))
            changes += page.changes
            self.cursor = page.cursor
            if not page.more:
                return changes, pages
        raise AssertionError("still more after 200 reads")

    def calls(self) -> int:
        return sum(self.agency.emulator.counters.by_endpoint().values())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_780_000_000.0)


def feed_for(clock: ManualClock, **config: Any) -> Feed:
    agency = Agency(HighLevelEmulatorConfig(clock=clock, **config))
    return Feed(agency, str(agency.connect()["access_token"]))


@pytest.fixture
def feed(clock: ManualClock) -> Feed:
    return feed_for(clock, rate_limit_enabled=False)


def add(feed: Feed, **attributes: str) -> str:
    return feed.agency.emulator.store.create_contact(
        feed.location, ContactInput(attributes=dict(attributes))
    ).id


def edit(feed: Feed, contact_id: str, **values: Any) -> None:
    change = ContactInput()
    for name, value in values.items():
        if name == "assignedTo":
            change.assigned_to = value
        else:
            change.attributes[name] = value
    feed.agency.emulator.store.update_contact(feed.location, contact_id, change)


def test_an_edit_searchable_late_is_read_once_within_the_overlap(
    feed: Feed, clock: ManualClock
) -> None:
    first, second = add(feed, firstName="Ada"), add(feed, firstName="Bo")
    changes, _ = feed.drain()
    assert [c.crm_id for c in changes] == [first, second]
    feed.agency.emulator.store.set_index_delay(5)
    clock.advance(60)
    edit(feed, first, lastName="Lovelace")
    clock.advance(1)
    later = add(feed, firstName="Cy")
    clock.advance(1)
    early, _ = feed.drain()
    assert early == [], "neither is searchable yet"
    clock.advance(3)
    edit(feed, second, lastName="Young")  # searchable only after the first two
    clock.advance(2.5)
    late, _ = feed.drain()
    assert [(c.crm_id, c.record.fields["lastName"] if c.record else None) for c in late] == [
        (first, "Lovelace"),
        (later, None),
    ]
    clock.advance(5)
    last, _ = feed.drain()
    assert [c.crm_id for c in last] == [second]
    quiet, _ = feed.drain()
    assert quiet == [], "what the window holds was delivered: nothing again"


def test_a_backlog_past_ten_thousand_is_read_500_a_call_with_search_after(
    feed: Feed, clock: ManualClock
) -> None:
    store = feed.agency.emulator.store
    ids = []
    for n in range(10_250):  # an import: 10,250 contacts in about ten seconds
        ids.append(store.create_contact(feed.location, ContactInput()).id)
        if n % 500 == 499:
            clock.advance(0.5)
    before = feed.calls()
    changes, pages = feed.drain(["firstName"])
    assert pages == 21
    assert feed.calls() - before == 22, "21 pages of contacts, one of deleted ones"
    assert sorted(c.crm_id for c in changes) == sorted(ids)
    assert [c.stamp for c in changes] == sorted(c.stamp for c in changes)
    clock.advance(60)
    again, _ = feed.drain(["firstName"])
    assert len(again) <= 10_250 - EDGE_CAP, "beyond the edge's cap, read again at most once"
    before = feed.calls()
    clock.advance(60)
    assert feed.drain(["firstName"])[0] == []
    assert feed.calls() - before == 2, "an idle read: one search of each kind"


def test_crmsyncs_own_write_comes_back_marked_echo_a_users_edit_does_not(
    feed: Feed, clock: ManualClock
) -> None:
    write = RecordWrite("p1", {"firstName": "Grace", "contact.acme_job_title": "Admiral"})
    [outcome] = feed.run(lambda c: c.push([write]))
    assert outcome.ok and outcome.crm_id
    fields = ["firstName", "contact.acme_job_title"]
    [own], _ = feed.drain(fields)
    assert (own.crm_id, own.echo) == (outcome.crm_id, True)
    assert own.record is not None and own.record.fields["contact.acme_job_title"] == "Admiral"
    clock.advance(1)
    edit(feed, outcome.crm_id, firstName="Gracie")
    [theirs], _ = feed.drain(fields)
    assert (theirs.crm_id, theirs.echo) == (outcome.crm_id, False)


def test_an_owner_reassigned_in_highlevel_is_read_as_assigned_to(
    feed: Feed, clock: ManualClock
) -> None:
    contact = add(feed, firstName="Ada")
    feed.drain()
    owner = feed.agency.emulator.store.add_user("olive@acme.test", "Olive", "Owner").id
    clock.advance(1)
    edit(feed, contact, assignedTo=owner)
    [change], _ = feed.drain()
    assert change.kind is ChangeKind.UPSERTED and change.record is not None
    assert change.record.fields["assignedTo"] == owner
    [read] = feed.run(lambda c: c.read([contact], FIELDS))
    assert read.fields == {"firstName": "Ada", "lastName": None, "assignedTo": owner}


def test_a_delete_then_a_restore_are_read_in_order(feed: Feed, clock: ManualClock) -> None:
    kept, gone = add(feed, firstName="Ada"), add(feed, firstName="Bo")
    feed.drain()
    clock.advance(1)
    feed.agency.emulator.store.delete_contact(feed.location, gone)
    deleted, _ = feed.drain()
    assert [(c.kind, c.crm_id) for c in deleted] == [(ChangeKind.DELETED, gone)]
    assert feed.run(lambda c: c.read([gone, kept], FIELDS))[0].crm_id == kept
    clock.advance(1)
    feed.agency.emulator.store.restore_contact(feed.location, gone)
    restored, _ = feed.drain()
    assert [(c.kind, c.crm_id) for c in restored] == [(ChangeKind.UPSERTED, gone)]
    assert feed.drain()[0] == []


# -- the daily allowance ---------------------------------------------------------------------


def answer(remaining: int, status: int = 200, limit: int = 200_000) -> httpx.Response:
    headers = {"X-RateLimit-Limit-Daily": str(limit), "X-RateLimit-Daily-Remaining": str(remaining)}
    return httpx.Response(status, headers=headers)


def test_the_allowance_slows_near_its_share_and_pauses_when_highlevel_says_the_day_is_spent(
    clock: ManualClock,
) -> None:
    allocation = HighLevelAllocation(clock=clock)
    allocation.configure(share=0.9, window=86_400.0, probe=3_600.0)
    allocation.observe(answer(150_000))
    assert allocation.wait() == 0.0
    allocation.observe(answer(10_000))  # 95 % used: what is left spread to the window's end
    assert allocation.wait() == pytest.approx(allocation.to_boundary() / 10_000)
    allocation.observe(answer(0, status=429))
    assert allocation.wait() == pytest.approx(allocation.until_next_window())
    with pytest.raises(RateLimited, match="HighLevel's daily API allocation is nearly used"):
        asyncio.run(allocation.before_request())


def test_reading_and_writing_draw_on_one_daily_allowance_and_stop_before_it(
    clock: ManualClock,
) -> None:
    feed = feed_for(clock, daily_requests=40, max_requests=1_000)
    feed.settings["api_usage_share"] = 0.5
    add(feed, firstName="Ada")
    refused = 0
    for n in range(30):
        try:
            if n % 2:
                feed.run(lambda c: c.read_changes(None, FIELDS))
            else:
                write = RecordWrite(f"p{n}", {"firstName": "Bo"})
                feed.run(lambda c, w=write: c.push([w]))
        except RateLimited as exc:
            refused += 1
            assert exc.resolution.retry_after and exc.resolution.retry_after > 10
    used = feed.calls()
    assert refused > 0, "paused before the allowance ran out"
    assert 20 <= used < 40, "past half the day's allowance, never to its end (no 429)"
