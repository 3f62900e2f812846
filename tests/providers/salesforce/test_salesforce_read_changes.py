"""The Salesforce connector's read half against the emulator: changes in (SystemModstamp, Id)
order across crowded seconds, tombstones, undeletes, merges and conversions, who made each
change, and a full reconciliation asked for once the delete log no longer reaches the cursor."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import select

from crmsync.connectors.base import Connector
from crmsync.db.tables import Link
from crmsync.domain.records import Change, ChangeKind, ChangePage
from crmsync.engine.connecting import open_connector
from crmsync.providers.salesforce import reading
from crmsync.providers.salesforce.connector import SalesforceConnector
from tests.providers.salesforce.conftest import harness, org
from tests.support.world import World

T = TypeVar("T")
PERSON_ID = "Acme_Person_ID__c"
FIELDS = ["Title", PERSON_ID]
DAY = 86_400


def _with_connector(w: World, use: Callable[[Connector], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_connector(w.rt, w.connection()) as connector:
            return await use(connector)

    return asyncio.run(run())


def _read(w: World, cursor: str | None) -> ChangePage:
    return _with_connector(w, lambda c: c.read_changes(cursor, FIELDS))


def _read_through(w: World, cursor: str | None) -> tuple[list[Change], str | None]:
    """Every page until one says nothing more is ready."""
    changes: list[Change] = []
    for _ in range(20):
        page = _read(w, cursor)
        changes += page.changes
        cursor = page.cursor
        if not page.more:
            return changes, cursor
    raise AssertionError("read_changes never caught up")


def _integration_user(w: World) -> str | None:
    async def use(connector: Connector) -> str | None:
        assert isinstance(connector, SalesforceConnector)
        return connector.integration_user_id

    return _with_connector(w, use)


def _pushed(w: World, *people: str) -> dict[str, str]:
    w.connect("org1")
    for person_id in people:
        w.person(person_id, title="Engineer")
        w.unlock("org1", person_id, "u-admin")
    w.drain()
    with w.rt.db.session() as session:
        rows = session.execute(select(Link.local_id, Link.crm_id)).all()
    return {person_id: crm_id for person_id, crm_id in rows if crm_id}


def _latest(changes: list[Change]) -> dict[str, Change]:
    return {change.crm_id: change for change in changes}


def test_a_crowded_second_is_paged_by_id_each_lead_once_and_without_looping(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _pushed(w, *(f"p{n}" for n in range(7)))
    with org(w).store.lock:
        rows = org(w).store.rows["Lead"].values()
        second = max(row["SystemModstamp"] for row in rows)
        for row in rows:
            row["SystemModstamp"] = second  # as one bulk load within one second leaves them
    monkeypatch.setattr(reading, "CHANGES_PER_READ", 3)
    pages = [_read(w, None)]
    while pages[-1].more and len(pages) < 6:
        pages.append(_read(w, pages[-1].cursor))
    assert [len(p.changes) for p in pages] == [3, 3, 1]
    read = [c.crm_id for p in pages for c in p.changes]
    assert sorted(read) == sorted(ids.values()) and len(set(read)) == 7
    again, _ = _read_through(w, pages[-1].cursor)
    assert len(again) <= 7, "a caught-up cursor re-reads at most its last second"


def test_changes_come_in_stamp_then_id_order_with_an_opaque_cursor_of_salesforces_own(
    w: World,
) -> None:
    _pushed(w, "p1", "p2")
    changes, cursor = _read_through(w, None)
    assert [(c.stamp, c.crm_id) for c in changes] == sorted((c.stamp, c.crm_id) for c in changes)
    assert cursor is not None and cursor.startswith(changes[-1].stamp)


def test_the_integration_users_writes_and_a_crm_users_edits_have_different_origins(
    w: World,
) -> None:
    ids = _pushed(w, "p1", "p2")
    integration = _integration_user(w)
    changes, cursor = _read_through(w, None)
    assert integration and {c.origin for c in changes} == {integration}, "crmsync's own writes"
    harness(w).manual_edit(ids["p1"], "title", "CTO")
    edited = _latest(_read_through(w, cursor)[0])[ids["p1"]]
    assert edited.kind is ChangeKind.UPSERTED
    assert edited.record is not None and edited.record.fields["Title"] == "CTO"
    assert edited.origin == harness(w).crm_user_id() != integration


def test_a_delete_is_a_tombstone_and_an_undelete_brings_the_record_back(w: World) -> None:
    ids = _pushed(w, "p1", "p2")
    _, cursor = _read_through(w, None)
    harness(w).delete_by_hand(ids["p1"])
    changes, cursor = _read_through(w, cursor)
    deleted = _latest(changes)[ids["p1"]]
    assert deleted.kind is ChangeKind.DELETED and deleted.merged_into is None
    assert deleted.record is not None and deleted.record.archived
    assert deleted.origin == harness(w).crm_user_id()
    harness(w).restore_by_hand(ids["p1"])
    restored = _latest(_read_through(w, cursor)[0])[ids["p1"]]
    assert restored.kind is ChangeKind.UPSERTED
    assert restored.record is not None and not restored.record.archived
    assert restored.stamp >= deleted.stamp


def test_a_merged_away_lead_is_merged_into_its_master(w: World) -> None:
    ids = _pushed(w, "p1", "p2", "p3")
    _, cursor = _read_through(w, None)
    harness(w).merge_by_hand(ids["p1"], ids["p2"], ids["p3"])
    changes = _latest(_read_through(w, cursor)[0])
    for loser in (ids["p2"], ids["p3"]):
        assert (changes[loser].kind, changes[loser].merged_into) == (ChangeKind.MERGED, ids["p1"])
    assert changes[ids["p1"]].kind is ChangeKind.UPSERTED, "the master's stamp moved"


def test_a_converted_lead_is_merged_into_the_contact_it_became(w: World) -> None:
    ids = _pushed(w, "p1")
    _, cursor = _read_through(w, None)
    contact = harness(w).convert_by_hand(ids["p1"])
    converted = _latest(_read_through(w, cursor)[0])[ids["p1"]]
    assert (converted.kind, converted.merged_into) == (ChangeKind.MERGED, contact)
    assert contact.startswith("003")
    fields = ["Title", "City", "Company"]
    read = {r.crm_id: r for r in _with_connector(w, lambda c: c.read([contact, ids["p1"]], fields))}
    assert set(read) == {contact, ids["p1"]}, "the lead and the contact it became, each by id"
    followed = read[contact]
    assert followed.fields["Title"] == "Engineer"
    assert "City" in followed.fields and "MailingCity" not in followed.fields, "Lead's names"
    assert "Company" not in followed.fields, "Contact has no Company: left out, not emptied"


def _checked_cursor(w: World) -> str | None:
    """A cursor whose delete log has been checked once (every read after the first)."""
    _, cursor = _read_through(w, None)
    _, cursor = _read_through(w, cursor)
    assert cursor is not None and not cursor.endswith("|")
    return cursor


def test_a_cursor_older_than_the_delete_log_asks_for_a_full_reconciliation(w: World) -> None:
    ids = _pushed(w, "p1", "p2")
    cursor = _checked_cursor(w)
    harness(w).advance_clock(120)
    harness(w).delete_by_hand(ids["p2"])
    harness(w).advance_clock(16 * DAY)  # the delete was purged unseen
    page = _read(w, cursor)
    assert page.full_sync_needed and page.changes == [] and page.cursor is None
    fresh, cursor = _read_through(w, None)
    assert {c.crm_id for c in fresh} == {ids["p1"]}, "a fresh read starts over"
    assert not _read(w, cursor).full_sync_needed, "and reads on without asking again"


def test_a_cursor_within_the_retention_reads_the_delete(w: World) -> None:
    ids = _pushed(w, "p1", "p2")
    cursor = _checked_cursor(w)
    harness(w).advance_clock(120)
    harness(w).delete_by_hand(ids["p2"])
    harness(w).advance_clock(14 * DAY)
    page = _read(w, cursor)
    assert not page.full_sync_needed
    assert _latest(page.changes)[ids["p2"]].kind is ChangeKind.DELETED


def test_a_quiet_org_asks_for_one_reconciliation_after_30_days_unread_not_one_per_read(
    w: World,
) -> None:
    _pushed(w, "p1")
    cursor = _checked_cursor(w)
    harness(w).advance_clock(31 * DAY)
    assert _read(w, cursor).full_sync_needed, "getDeleted no longer reaches the last check"
    _, fresh = _read_through(w, None)
    for _ in range(2):
        page = _read(w, fresh)
        assert not page.full_sync_needed
        fresh = page.cursor


def test_a_bare_stamp_cursor_of_the_one_way_release_still_reads_from_its_second(
    w: World,
) -> None:
    ids = _pushed(w, "p1")
    [change] = [c for c in _read_through(w, None)[0] if c.crm_id == ids["p1"]]
    page = _read(w, change.stamp)
    assert ids["p1"] in {c.crm_id for c in page.changes}


def test_the_connector_names_its_integration_user_from_the_identity_url(w: World) -> None:
    _pushed(w, "p1")
    settings = w.connection().settings
    assert _integration_user(w) == settings["user_id"] == org(w).admin_id


def _row(stamp: str, record_id: str) -> dict[str, str]:
    return {"SystemModstamp": f"2026-12-01T09:00:{stamp}.000+0000", "Id": record_id}


def test_a_caught_up_position_steps_back_by_the_overlap_but_never_behind_where_it_read_from() -> (
    None
):
    rows = [_row("10", "00QA"), _row("20", "00QB")]
    assert reading.next_position(None, rows, False, 0) == ("2026-12-01T09:00:20.000+0000", "")
    assert reading.next_position(None, rows, False, 5) == ("2026-12-01T09:00:15.000+0000", "")
    after_full_page = reading.next_position(None, rows, True, 5)
    assert after_full_page == ("2026-12-01T09:00:20.000+0000", "00QB")
    behind = reading.next_position(after_full_page, [_row("21", "00QC")], False, 5)
    assert behind == after_full_page, "the position never moves back"
    assert reading.next_position(after_full_page, [], False, 5) == after_full_page


def test_the_cursor_round_trips_its_position_and_check() -> None:
    position = ("2026-12-01T09:00:20.000+0000", "00QB")
    cursor = reading.encode_cursor(position, "2026-12-01T09:00:00.000+0000")
    assert reading.decode_cursor(cursor) == (position, "2026-12-01T09:00:00.000+0000")
    assert reading.decode_cursor(position[0]) == ((position[0], ""), "")
