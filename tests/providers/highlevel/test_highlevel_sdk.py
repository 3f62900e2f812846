"""HighLevel's official Python SDK (gohighlevel-api-client) against the served emulator.

The SDK is used as a HighLevel customer would, with one change: its HTTP client's base URL
(``HighLevel.BASE_URL``, read once into ``http_client``) points at the emulator on a loopback
port. The SDK sends ``Version: v3`` on every call, whatever the operation. What the emulator
stored is read back from its store with HighLevel's own field names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from highlevel import HighLevel
from highlevel.error import GHLError

from crmsync.cli.serving import ServerThread
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from tests.providers.highlevel.test_highlevel_emulator import Agency

T = TypeVar("T")


@dataclass
class Served:
    agency: Agency
    base_url: str
    token: str

    @property
    def location(self) -> str:
        return self.agency.locations[0]

    def run(self, call: Callable[[HighLevel], Awaitable[T]]) -> T:
        """One SDK call on a fresh client (the SDK's httpx client lives on one event loop)."""

        async def go() -> T:
            sdk = HighLevel(
                client_id=self.agency.config.client_id,
                client_secret=self.agency.config.client_secret,
                location_access_token=self.token,
                log_level="error",
            )
            sdk.get_http_client().base_url = httpx.URL(self.base_url)
            try:
                return await call(sdk)
            finally:
                await sdk.close()

        return asyncio.run(go())

    def refused(self, call: Callable[[HighLevel], Awaitable[Any]]) -> GHLError:
        with pytest.raises(GHLError) as caught:
            self.run(call)
        return caught.value


@pytest.fixture
def served() -> Iterator[Served]:
    agency = Agency(HighLevelEmulatorConfig(rate_limit_enabled=False))
    tokens = agency.connect()
    server = ServerThread(agency.app).start()
    try:
        yield Served(agency, server.url, str(tokens["access_token"]))
    finally:
        server.stop()


def _create(served: Served, **values: Any) -> dict[str, Any]:
    body = {"locationId": served.location, **values}
    created: dict[str, Any] = served.run(lambda sdk: sdk.contacts.create_contact(body))
    return dict(created["contact"])


def test_the_sdk_version_header_is_one_highlevel_supports(served: Served) -> None:
    """gohighlevel-api-client 3.x sends ``Version: v3``, listed on HighLevel's API Versioning
    page; an unknown version is refused, a missing one too."""
    assert HighLevel.API_VERSION == "v3"
    contact = _create(served, firstName="Ada", email="ada@example.com")
    stored = served.agency.emulator.store.snapshot(served.location)
    assert [(c.id, c.attributes.get("email")) for c in stored] == [
        (contact["id"], "ada@example.com")
    ]
    path = f"/contacts/{contact['id']}"
    for version, message in (
        ("2019-01-01", "Version 2019-01-01 is not supported"),
        ("", "Version header was not found"),
    ):
        error = served.refused(
            lambda sdk, v=version: sdk.request(method="GET", url=path, headers={"Version": v})
        )
        assert (error.status_code, error.response["message"]) == (400, message)


def test_delete_contact_removes_it(served: Served) -> None:
    contact = _create(served, firstName="Grace", email="grace@example.com")
    kept = _create(served, firstName="Alan", email="alan@example.com")
    answer = served.run(lambda sdk: sdk.contacts.delete_contact(contact["id"]))
    assert answer == {"succeded": True}
    store = served.agency.emulator.store
    assert [c.id for c in store.snapshot(served.location)] == [kept["id"]]
    assert store.find_duplicate(served.location, "grace@example.com", None) is None
    error = served.refused(lambda sdk: sdk.contacts.get_contact(contact["id"]))
    assert (error.status_code, error.response["message"]) == (400, "Contact not found")
    again = served.refused(lambda sdk: sdk.contacts.delete_contact(contact["id"]))
    assert again.status_code == 400
    # the email is free again: a new contact may take it
    assert _create(served, firstName="Grace", email="grace@example.com")["id"] != contact["id"]


def test_get_one_custom_field(served: Served) -> None:
    field_id = served.agency.field("Acme Person ID")
    answer = served.run(lambda sdk: sdk.locations.get_custom_field(served.location, field_id))
    stored = served.agency.emulator.store.custom_fields(served.location, "contact")
    assert [(f.id, f.name, f.field_key) for f in stored] == [
        (field_id, "Acme Person ID", "contact.acme_person_id")
    ]
    field = answer["customField"]
    assert (field["id"], field["name"], field["fieldKey"], field["dataType"]) == (
        field_id,
        "Acme Person ID",
        "contact.acme_person_id",
        "TEXT",
    )
    missing = served.refused(lambda sdk: sdk.locations.get_custom_field(served.location, "nope"))
    assert missing.status_code == 400


def test_get_one_user(served: Served) -> None:
    store = served.agency.emulator.store
    owner = store.add_user("olive@acme.test", "Olive", "Owner", [served.location])
    elsewhere = store.add_user("else@acme.test", "Else", "Where", [served.agency.locations[1]])
    user = served.run(lambda sdk: sdk.users.get_user(owner.id))
    assert (user["id"], user["email"], user["firstName"], user["lastName"], user["name"]) == (
        owner.id,
        "olive@acme.test",
        "Olive",
        "Owner",
        "Olive Owner",
    )
    assert user["roles"]["locationIds"] == [served.location]
    other = served.refused(lambda sdk: sdk.users.get_user(elsewhere.id))
    assert other.status_code == 400


def test_unknown_routes_answer_in_highlevels_shape(served: Served) -> None:
    contact = _create(served, firstName="Ada")
    for method, path in (
        ("GET", "/contacts/no/such/route"),
        ("PATCH", f"/contacts/{contact['id']}"),
    ):
        error = served.refused(lambda sdk, m=method, p=path: sdk.request(method=m, url=p))
        assert error.status_code == 404
        assert error.response == {
            "statusCode": 404,
            "message": f"Cannot {method} {path}",
            "error": "Not Found",
        }


def _search(served: Served, **body: Any) -> dict[str, Any]:
    request = {"locationId": served.location, "pageLimit": 2, **body}
    found: dict[str, Any] = served.run(lambda sdk: sdk.contacts.search_contacts_advanced(request))
    return found


def test_search_by_date_updated_pages_on_with_search_after(served: Served) -> None:
    """The change feed's call through the SDK: a ``dateUpdated`` range, sorted by it, paged
    with the ``searchAfter`` of the last contact."""
    made = [_create(served, firstName=name) for name in ("Ada", "Bo", "Cy")]
    by_update = [{"field": "dateUpdated", "direction": "asc"}]
    since = {"field": "dateUpdated", "operator": "range", "value": {"gte": made[0]["dateUpdated"]}}
    first = _search(served, filters=[since], sort=by_update)
    assert [c["id"] for c in first["contacts"]] == [made[0]["id"], made[1]["id"]]
    assert first["total"] == 3
    after = first["contacts"][-1]["searchAfter"]
    rest = _search(served, filters=[since], sort=by_update, searchAfter=after)
    assert [c["id"] for c in rest["contacts"]] == [made[2]["id"]]
    stored = {c.id: c.date_updated for c in served.agency.emulator.store.snapshot(served.location)}
    assert [stored[c["id"]] for c in first["contacts"] + rest["contacts"]] == sorted(
        stored.values()
    )


def test_a_filter_the_search_does_not_support_is_refused_through_the_sdk(served: Served) -> None:
    _create(served, firstName="Ada")
    request = {
        "locationId": served.location,
        "pageLimit": 20,
        "filters": [{"field": "firstNameLowerCase", "operator": "range", "value": {"gt": "a"}}],
    }
    error = served.refused(lambda sdk: sdk.contacts.search_contacts_advanced(request))
    assert error.status_code == 422
    assert error.response["message"] == [
        "filters.0.operator range is not supported for firstNameLowerCase"
    ]
