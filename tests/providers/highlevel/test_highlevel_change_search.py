"""What HighLevel's contact search gives a change feed, in the emulator: ``dateUpdated`` ranges
and sorting, ``searchAfter`` past 10,000 results, deletes and restores, the indexing delay, and
the filters it refuses in HighLevel's own 422 shape. Records are checked with HighLevel's field
names, in the emulator's store."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.emulation import ManualClock
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.records import ContactInput
from tests.providers.highlevel.test_highlevel_emulator import Agency


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_780_000_000.0)


@pytest.fixture
def agency(clock: ManualClock) -> Agency:
    found = Agency(HighLevelEmulatorConfig(rate_limit_enabled=False, clock=clock))
    found.connect()
    return found


def search(agency: Agency, **body: Any) -> Any:
    return agency.http.post("/contacts/search", json={"locationId": agency.locations[0], **body})


def hits(agency: Agency, **body: Any) -> list[dict[str, Any]]:
    r = search(agency, **body)
    assert r.status_code == 200, r.text
    contacts: list[dict[str, Any]] = r.json()["contacts"]
    return contacts


def since(stamp: str) -> list[dict[str, Any]]:
    return [{"field": "dateUpdated", "operator": "range", "value": {"gte": stamp}}]


BY_UPDATE = [{"field": "dateUpdated", "direction": "asc"}]


def put(agency: Agency, contact_id: str, **body: Any) -> dict[str, Any]:
    r = agency.http.put(f"/contacts/{contact_id}", json=body)
    assert r.status_code == 200, r.text
    contact: dict[str, Any] = r.json()["contact"]
    return contact


def test_a_dateupdated_range_sorted_by_it_finds_what_changed_since_oldest_first(
    agency: Agency, clock: ManualClock
) -> None:
    ids = [agency.create(firstName=name).json()["contact"]["id"] for name in ("Ada", "Bo", "Cy")]
    clock.advance(60)
    edited = put(agency, ids[2], lastName="Young")
    clock.advance(1)
    put(agency, ids[0], lastName="Lovelace")
    found = hits(agency, filters=since(edited["dateUpdated"]), sort=BY_UPDATE, pageLimit=500)
    assert [c["id"] for c in found] == [ids[2], ids[0]]
    assert found[0]["searchAfter"][1] == ids[2], "each hit carries [sort value, id]"
    assert found[0]["dateUpdated"] == edited["dateUpdated"]
    stored = agency.emulator.store.get_contact(agency.locations[0], ids[1])
    assert stored.date_updated < edited["dateUpdated"], "the unchanged one is older"
    bounded = [
        {
            "field": "dateUpdated",
            "operator": "range",
            "value": {"gt": edited["dateUpdated"], "lte": found[1]["dateUpdated"]},
        }
    ]
    assert [c["id"] for c in hits(agency, filters=bounded, sort=BY_UPDATE)] == [ids[0]]


def test_search_after_reads_past_ten_thousand_where_pages_are_refused(agency: Agency) -> None:
    store, location = agency.emulator.store, agency.locations[0]
    for n in range(10_250):
        store.create_contact(location, ContactInput(attributes={"firstName": f"P{n}"}))
    refused = search(agency, page=21, pageLimit=500, sort=BY_UPDATE)
    assert refused.status_code == 422
    assert refused.json() == {
        "statusCode": 422,
        "message": ["page * pageLimit must not exceed 10000; use searchAfter"],
        "error": "Unprocessable Entity",
    }
    seen: list[str] = []
    after: list[Any] | None = None
    calls = 0
    while True:
        body: dict[str, Any] = {"pageLimit": 500, "sort": BY_UPDATE}
        if after is not None:
            body["searchAfter"] = after
        page = hits(agency, **body)
        calls += 1
        seen += [c["id"] for c in page]
        if len(page) < 500:
            break
        after = page[-1]["searchAfter"]
    assert calls == 21
    assert len(seen) == len(set(seen)) == 10_250
    assert set(seen) == {c.id for c in store.snapshot(location)}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "filters": [
                    {"field": "firstNameLowerCase", "operator": "range", "value": {"gt": "a"}}
                ]
            },
            "filters.0.operator range is not supported for firstNameLowerCase",
        ),
        (
            {"filters": [{"field": "dateUpdated", "operator": "range", "value": {"after": 1}}]},
            "filters.0.value must be an object of gt, gte, lt, lte",
        ),
        (
            {"filters": [{"field": "dateUpdated", "operator": "range", "value": {"gt": "soon"}}]},
            "filters.0.value.gt must be a date string or epoch milliseconds",
        ),
        (
            {"filters": [{"field": "lastModifiedBy", "operator": "eq", "value": "me"}]},
            "filters.0.field lastModifiedBy is not supported",
        ),
        (
            {"filters": [{"field": "dateUpdated", "operator": "gte", "value": "2026-01-01"}]},
            "filters.0.operator must be one of: eq, not_eq, contains, not_contains, exists, "
            "not_exists, range",
        ),
        (
            {"filters": [{"field": "deleted", "operator": "not_eq", "value": True}]},
            "filters.0: deleted takes only eq with true or false",
        ),
        (
            {"page": 1, "searchAfter": [1, "abc"], "sort": BY_UPDATE},
            "page must not be sent with searchAfter",
        ),
        (
            {"searchAfter": ["yesterday", "abc"], "sort": BY_UPDATE},
            "searchAfter must be the array returned with a contact",
        ),
        ({"sort": [{"field": "lastActivity", "direction": "asc"}]}, None),
    ],
)
def test_a_filter_the_search_does_not_support_is_refused_not_ignored(
    agency: Agency, body: dict[str, Any], message: str | None
) -> None:
    agency.create(firstName="Ada")
    r = search(agency, **body)
    assert r.status_code == 422, r.text
    assert r.json()["statusCode"] == 422 and r.json()["error"] == "Unprocessable Entity"
    if message is not None:
        assert r.json()["message"] == [message]


def test_a_deleted_contact_leaves_search_and_comes_back_restored(
    agency: Agency, clock: ManualClock
) -> None:
    contact = agency.create(firstName="Grace", email="grace@example.com").json()["contact"]
    location = agency.locations[0]
    clock.advance(5)
    assert agency.http.delete(f"/contacts/{contact['id']}").json() == {"succeded": True}
    assert hits(agency) == []
    assert agency.http.get(f"/contacts/{contact['id']}").status_code == 400
    gone = hits(agency, filters=[{"field": "deleted", "operator": "eq", "value": True}])
    assert [(c["id"], c["deleted"]) for c in gone] == [(contact["id"], True)]
    assert gone[0]["dateUpdated"] > contact["dateUpdated"], "the delete moves dateUpdated"
    assert agency.emulator.store.snapshot(location) == []
    clock.advance(5)
    r = agency.http.post(f"/_emulator/locations/{location}/contacts/{contact['id']}/restore")
    assert r.status_code == 200, r.text
    back = hits(agency, filters=since(gone[0]["dateUpdated"]), sort=BY_UPDATE)
    assert [c["id"] for c in back] == [contact["id"]]
    assert back[0]["dateUpdated"] > gone[0]["dateUpdated"] and "deleted" not in back[0]
    stored = agency.emulator.store.get_contact(location, contact["id"])
    assert stored.attributes == {"firstName": "Grace", "email": "grace@example.com"}
    assert hits(agency, filters=[{"field": "deleted", "operator": "eq", "value": True}]) == []


def test_search_sees_an_update_only_after_the_indexing_delay_a_get_at_once(
    agency: Agency, clock: ManualClock
) -> None:
    contact = agency.create(firstName="Ada").json()["contact"]
    r = agency.http.put("/_emulator/search/delay", json={"seconds": 5})
    assert r.status_code == 200, r.text
    clock.advance(10)
    edited = put(agency, contact["id"], lastName="Lovelace")
    assert agency.http.get(f"/contacts/{contact['id']}").json()["contact"]["lastName"] == (
        "Lovelace"
    )
    assert hits(agency, filters=since(edited["dateUpdated"])) == [], "not searchable yet"
    [old] = hits(agency)
    assert "lastName" not in old, "search still holds the version before"
    created = agency.create(firstName="Bo").json()["contact"]
    assert [c["id"] for c in hits(agency)] == [contact["id"]], "a new contact neither"
    clock.advance(5)
    found = hits(agency, filters=since(edited["dateUpdated"]), sort=BY_UPDATE)
    assert [(c["id"], c.get("lastName")) for c in found] == [
        (contact["id"], "Lovelace"),
        (created["id"], None),
    ]
