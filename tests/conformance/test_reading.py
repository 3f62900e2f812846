"""The read half of the connector contract, run for every connector that declares it.

What a connector reads is checked against what the emulator's harness holds (its own field
names, not the connector's), and against what crmsync wrote.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

import pytest
from sqlalchemy import select

from crmsync.connectors.base import Connector
from crmsync.db.tables import Link
from crmsync.domain.records import Capability, Change, ChangeKind, FieldKind
from crmsync.engine.connecting import open_connector
from tests.support.world import World

T = TypeVar("T")
ABSENT_IDS = {"hubspot": "999999999", "salesforce": "00Q000000000000AAA"}
"""A well-formed id of a record the CRM does not have."""


def _with_connector(w: World, use: Callable[[Connector], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_connector(w.rt, w.connection()) as connector:
            return await use(connector)

    return asyncio.run(run())


def _declares(w: World, capability: Capability) -> None:
    if capability not in w.rt.provider(w.provider).connector.capabilities:
        pytest.skip(f"{w.provider} does not declare {capability}")


def _crm_field(w: World, app_field: str) -> str:
    connector = w.rt.provider(w.provider).connector
    [name] = [f.crm_field for f in connector.default_fields(w.rt.app) if f.app_field == app_field]
    assert name is not None
    return name


def _crm_ids(w: World) -> dict[str, str]:
    with w.rt.db.session() as session:
        rows = session.execute(select(Link.local_id, Link.crm_id)).all()
    return {person_id: crm_id for person_id, crm_id in rows if crm_id}


def _pushed(w: World, **people: dict[str, Any]) -> dict[str, str]:
    w.connect("org1")
    for person_id, values in people.items():
        w.person(person_id, **values)
        w.unlock("org1", person_id, "u-admin")
    w.drain()
    return _crm_ids(w)


def test_read_returns_what_the_crm_holds_by_the_mappings_field_names(team: World) -> None:
    _declares(team, Capability.READ)
    ids = _pushed(team, p1={"first_name": "Grace", "title": "Admiral"}, p2={"title": "Ensign"})
    fields = [_crm_field(team, f) for f in ("first_name", "title", "person_id")]
    absent = ABSENT_IDS.get(team.provider)
    wanted = [ids["p1"], ids["p2"], *([absent] if absent else [])]
    records = _with_connector(team, lambda c: c.read(wanted, fields))
    by_id = {r.crm_id: r for r in records}
    assert set(by_id) == {ids["p1"], ids["p2"]}, "a missing id is left out, not an error"
    held = {r.crm_id: r.values for r in team.harness.records()}
    for person_id in ("p1", "p2"):
        record = by_id[ids[person_id]]
        assert record.fields[_crm_field(team, "title")] == held[ids[person_id]]["title"]
        assert record.fields[_crm_field(team, "person_id")] == person_id
        assert record.modified_at, "the CRM's own modification stamp"
    assert by_id[ids["p1"]].fields[_crm_field(team, "first_name")] == "Grace"


def test_read_changes_follows_a_crm_users_edit_from_the_cursor(team: World) -> None:
    _declares(team, Capability.READ_CHANGES)
    ids = _pushed(team, p1={"title": "Engineer"}, p2={"title": "Designer"})
    fields = [_crm_field(team, "title")]
    first = _with_connector(team, lambda c: c.read_changes(None, fields))
    assert {ids["p1"], ids["p2"]} <= {change.crm_id for change in first.changes}
    assert first.cursor, "a position in the CRM's own terms"
    time.sleep(1.1)  # the edit lands in a later second than both writes
    team.harness.manual_edit(ids["p1"], "title", "CTO")
    after = _with_connector(team, lambda c: c.read_changes(first.cursor, fields))
    changed = {change.crm_id: change for change in after.changes}
    assert ids["p1"] in changed
    edited = changed[ids["p1"]].record
    assert edited is not None and edited.fields[fields[0]] == "CTO"
    assert [c.stamp for c in after.changes] == sorted(c.stamp for c in after.changes)
    quiet = _with_connector(team, lambda c: c.read_changes(after.cursor, fields))
    assert ids["p2"] not in {change.crm_id for change in quiet.changes}, (
        "a record unchanged since the cursor is not read again"
    )


def test_a_cursor_the_crm_still_covers_needs_no_full_reconciliation(team: World) -> None:
    _declares(team, Capability.READ_CHANGES)
    _pushed(team, p1={"title": "Engineer"})
    fields = [_crm_field(team, "title")]
    first = _with_connector(team, lambda c: c.read_changes(None, fields))
    assert not first.full_sync_needed and not first.more
    again = _with_connector(team, lambda c: c.read_changes(first.cursor, fields))
    assert not again.full_sync_needed and again.cursor, "a fresh cursor reads on"


def test_describe_fields_lists_every_mapped_crm_field_with_a_kind(team: World) -> None:
    _declares(team, Capability.DESCRIBE_FIELDS)
    team.connect("org1")  # the custom fields exist from here on
    described = {f.name: f for f in _with_connector(team, lambda c: c.describe_fields())}
    connector = team.rt.provider(team.provider).connector
    mapped = {f.crm_field for f in connector.default_fields(team.rt.app) if f.crm_field}
    assert mapped <= set(described), f"not described: {sorted(mapped - set(described))}"
    person_id = described[_crm_field(team, "person_id")]
    assert person_id.custom and person_id.kind is FieldKind.STRING
    assert not described[_crm_field(team, "first_name")].custom
    assert described[_crm_field(team, "owner")].kind is FieldKind.REFERENCE


def test_an_undeclared_half_is_refused_by_name(team: World) -> None:
    connector_type = team.rt.provider(team.provider).connector
    if Capability.READ_CHANGES in connector_type.capabilities:
        pytest.skip(f"{team.provider} reads changes")
    team.connect("org1")
    with pytest.raises(NotImplementedError, match="does not declare"):
        _with_connector(team, lambda c: c.read_changes(None, []))


@runtime_checkable
class ArchivesByHand(Protocol):
    """A harness whose CRM users can delete (archive) and restore records by hand."""

    def archive_by_hand(self, crm_id: str) -> None: ...

    def restore_by_hand(self, crm_id: str) -> None: ...


@runtime_checkable
class LagsSearch(Protocol):
    """A harness whose CRM's change feed trails writes (HubSpot's search index)."""

    def set_search_lag(self, seconds: float, create_seconds: float | None = None) -> None: ...


def _drain(w: World, cursor: str | None, fields: list[str]) -> tuple[list[Change], str | None]:
    """Read until the CRM has nothing more now."""
    changes: list[Change] = []
    for _ in range(50):
        page = _with_connector(w, lambda c, at=cursor: c.read_changes(at, fields))
        changes, cursor = changes + page.changes, page.cursor
        if not page.more:
            return changes, cursor
    raise AssertionError("read_changes kept saying more")


def test_read_changes_reports_a_delete_by_hand_then_the_restore(team: World) -> None:
    _declares(team, Capability.READ_CHANGES)
    harness = team.harness
    if not isinstance(harness, ArchivesByHand):
        pytest.skip(f"{team.provider}'s harness cannot delete by hand")
    ids = _pushed(team, p1={"title": "Engineer"}, p2={"title": "Designer"})
    fields = [_crm_field(team, "title")]
    _, cursor = _drain(team, None, fields)
    time.sleep(1.1)  # the delete and the restore land in later seconds than the writes
    harness.archive_by_hand(ids["p1"])
    deleted, cursor = _drain(team, cursor, fields)
    assert [(c.kind, c.crm_id) for c in deleted] == [(ChangeKind.DELETED, ids["p1"])]
    time.sleep(1.1)
    harness.restore_by_hand(ids["p1"])
    restored, _ = _drain(team, cursor, fields)
    assert (ChangeKind.UPSERTED, ids["p1"]) in [(c.kind, c.crm_id) for c in restored]
    assert ids["p2"] not in {c.crm_id for c in deleted + restored}


def test_read_changes_reads_an_edit_the_crm_showed_late(team: World) -> None:
    _declares(team, Capability.READ_CHANGES)
    harness = team.harness
    if not isinstance(harness, LagsSearch):
        pytest.skip(f"{team.provider}'s change feed does not lag")
    ids = _pushed(team, p1={"title": "Engineer"})
    fields = [_crm_field(team, "title")]
    _, cursor = _drain(team, None, fields)
    harness.set_search_lag(1.0)
    time.sleep(1.1)
    team.harness.manual_edit(ids["p1"], "title", "CTO")
    early, cursor = _drain(team, cursor, fields)
    assert ids["p1"] not in {c.crm_id for c in early}, "not in the feed yet"
    time.sleep(1.2)
    late, _ = _drain(team, cursor, fields)
    [edit] = [c for c in late if c.crm_id == ids["p1"]]
    assert edit.record is not None and edit.record.fields[fields[0]] == "CTO"
