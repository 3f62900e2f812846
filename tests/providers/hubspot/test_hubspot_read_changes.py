"""HubSpot's change feed (``read_changes``) against the emulator: the search index's lag,
ties and full pages, the 10,000-result cap, archive and restore, merges, and crmsync's own
writes told from a CRM user's."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest

from crmsync.domain.records import ChangeKind
from crmsync.emulation import ManualClock
from crmsync.providers.hubspot import changes
from crmsync.providers.hubspot.emulator import HubSpotEmulatorConfig, create_app
from tests.providers.hubspot.feed import Feed, connector_for
from tests.providers.hubspot.hubspot_portal import client_for, connect

pytestmark = pytest.mark.anyio


async def make_feed(clock: ManualClock, **settings: str) -> Feed:
    app = create_app(HubSpotEmulatorConfig(clock=clock, rate_limit_enabled=False))
    emulator = app.state.emulator
    async with client_for(app) as client:
        tokens = await connect(client)
    return Feed(connector_for(app, emulator, tokens["access_token"], **settings), emulator, clock)


@pytest.fixture
async def feed(anyio_backend: str, clock: ManualClock) -> AsyncIterator[Feed]:
    made = await make_feed(clock)
    yield made
    await made.connector.ctx.http.aclose()


def ada(n: int = 0, **extra: str) -> dict[str, object]:
    return {"email": f"ada{n}@example.com", "firstname": "Ada", **extra}


async def test_a_quiet_read_delivers_nothing_and_an_edit_comes_once(feed: Feed) -> None:
    store = feed.emulator.store
    first = store.create(ada(1)).id
    second = store.create(ada(2)).id
    assert sorted(feed.upserted(await feed.drain())) == sorted([first, second])
    assert await feed.drain() == [], "nothing changed: nothing delivered"
    feed.clock.advance(2)
    store.update(first, {"jobtitle": "CTO"}, manual=True)
    [edit] = await feed.drain()
    assert (edit.crm_id, edit.kind, edit.changed_fields) == (
        first,
        ChangeKind.UPSERTED,
        {"jobtitle"},
    )
    assert edit.record is not None and edit.record.fields["jobtitle"] == "CTO"
    assert await feed.drain() == []


@pytest.mark.parametrize("overlap", ["60", "0"])
async def test_an_update_the_index_shows_late_is_read_within_the_overlap(
    anyio_backend: str, clock: ManualClock, overlap: str
) -> None:
    feed = await make_feed(clock, overlap_seconds=overlap)
    store = feed.emulator.store
    early = store.create(ada(1)).id
    await feed.drain()
    store.set_search_lag(60, create_seconds=10)
    clock.advance(1)
    store.update(early, {"jobtitle": "CTO"}, manual=True)  # searchable at +60 s
    clock.advance(5)
    late = store.create(ada(2)).id  # a later stamp, searchable at +10 s
    clock.advance(20)
    assert feed.upserted(await feed.drain()) == [late], "the update is not searchable yet"
    clock.advance(60)
    found = feed.upserted(await feed.drain())
    if overlap == "60":
        assert found == [early], "an older stamp that became searchable late is still read"
    else:
        assert found == [], "without the overlap it is lost: what the window is for"
    await feed.connector.ctx.http.aclose()


async def test_ties_larger_than_a_page_are_read_by_id_each_contact_once(feed: Feed) -> None:
    store = feed.emulator.store
    tied = [c.id for c in store.create_many([ada(i) for i in range(450)])]  # one stamp
    feed.clock.advance(1)
    later = [c.id for c in store.create_many([ada(i) for i in range(450, 470)])]
    changes = await feed.drain()
    counted = Counter(feed.upserted(changes))
    assert set(counted) == {*tied, *later} and set(counted.values()) == {1}
    assert [c.stamp for c in changes] == sorted(c.stamp for c in changes)


async def test_more_than_ten_thousand_changes_are_read_past_the_search_cap(feed: Feed) -> None:
    store = feed.emulator.store
    made: list[str] = []
    for chunk in range(105):  # 100 contacts a second: pages end mid-stamp, never on a tie
        batch = [{"firstname": f"n{chunk}-{i}"} for i in range(100)]
        made += [c.id for c in store.create_many(batch)]
        feed.clock.advance(1)
    counted = Counter(feed.upserted(await feed.drain(limit=200)))
    assert len(made) == 10_500 and set(counted) == set(made)
    assert max(counted.values()) == 1


async def test_an_archive_is_a_tombstone_and_a_restore_an_upsert(feed: Feed) -> None:
    store = feed.emulator.store
    kept, gone = store.create(ada(1)).id, store.create(ada(2)).id
    await feed.drain()
    feed.clock.advance(5)
    store.archive([gone], store.admin_source)
    [tombstone] = await feed.drain()
    assert (tombstone.kind, tombstone.crm_id) == (ChangeKind.DELETED, gone)
    [archived] = store.snapshot(archived=True)
    assert tombstone.stamp == archived.archived_at, "stamped with HubSpot's archivedAt"
    assert tombstone.record is not None and tombstone.record.archived
    reported = [c for c in await feed.drain() + await feed.drain() if c.kind is ChangeKind.DELETED]
    assert len(reported) <= 1, "an archive is reported at most twice in all"
    feed.clock.advance(5)
    store.restore(gone)
    assert feed.upserted(await feed.drain()) == [gone]
    assert kept not in {c.crm_id for c in feed.seen[2:]}


async def test_a_merge_reports_the_merged_id_into_the_survivor_once(feed: Feed) -> None:
    store = feed.emulator.store
    survivor, merged = store.create(ada(1)).id, store.create(ada(2, jobtitle="Countess")).id
    await feed.drain()
    feed.clock.advance(5)
    store.merge(survivor, merged, store.admin_source)
    changes = await feed.drain()
    merges = [c for c in changes if c.kind is ChangeKind.MERGED]
    assert [(c.crm_id, c.merged_into) for c in merges] == [(merged, survivor)]
    assert feed.upserted(changes) == [survivor]
    assert not merges[0].echo
    assert await feed.drain() == [], "a merge already reported is not reported again"


async def test_crmsyncs_own_writes_are_marked_as_echoes_and_a_users_are_not(feed: Feed) -> None:
    store = feed.emulator.store
    ours = store.create(ada(1)).id  # through the API: the app's write
    [echo] = await feed.drain()
    app_id = str(feed.emulator.config.app_id)
    assert (echo.crm_id, echo.echo, echo.origin) == (ours, True, f"INTEGRATION:{app_id}")
    feed.clock.advance(3)
    store.update(ours, {"firstname": "Grace"}, manual=True)
    [edit] = await feed.drain()
    assert not edit.echo
    assert edit.origin == f"CRM_UI:userId:{store.admin_source.user_id}"


async def test_a_cursor_that_is_not_hubspots_is_refused(feed: Feed) -> None:
    with pytest.raises(ValueError, match="not a HubSpot"):
        await feed.connector.read_changes("hs1.not-base64-json", ["email"])


def batch_reads(feed: Feed) -> int:
    return feed.emulator.counters.by_endpoint().get("POST /crm/v3/objects/contacts/batch/read", 0)


async def test_a_settled_burst_larger_than_the_edge_is_not_read_again_at_each_idle_read(
    feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The edge keeps at most EDGE_CAP ids; a burst beyond it would be delivered again by
    every read while the window covers it. Once HubSpot's clock (its Date header) is an
    overlap past the stamp, the window is settled: idle reads read nothing again."""
    monkeypatch.setattr(changes, "EDGE_CAP", 2)
    store = feed.emulator.store
    ids = []
    for n in range(6):
        ids.append(store.create(ada(n)).id)
        feed.clock.advance(0.01)
    assert sorted(feed.upserted(await feed.drain())) == sorted(ids)
    repeated = feed.upserted(await feed.drain())
    assert repeated, "within the overlap, what the edge could not keep is delivered again"
    feed.clock.advance(61)
    await feed.drain()  # HubSpot's clock is past the window: this read settles it
    reads = batch_reads(feed)
    assert await feed.drain() == []
    assert await feed.drain() == []
    assert batch_reads(feed) == reads, "a settled window is not read again"
    store.update(ids[0], {"jobtitle": "CTO"}, manual=True)
    [edit] = await feed.drain()
    assert (edit.crm_id, edit.changed_fields) == (ids[0], {"jobtitle"})
