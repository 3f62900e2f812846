"""Bad input gets a clear 4xx with a message, and nothing is written."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from crmsync.api.deps import hash_key
from crmsync.db.tables import ApiKey, Connection, Person
from tests.support.consent import consent
from tests.support.world import World

RowCounts = Callable[[], dict[str, int]]


def _unlock_p1(w: World) -> None:
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")


def _synced_op(w: World) -> dict[str, Any]:
    w.connect("org1")
    _unlock_p1(w)
    w.drain()
    [op] = w.operations()
    return op


# -- host authentication ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong-key",
        "Basic dGVzdC1ob3N0LWtleTo=",
        "Bearer ",
        "test-host-key",
        # non-ASCII keys: compare_digest refuses non-ASCII str (a TypeError, once a 500)
        "Bearer café".encode(),
        "Bearer café".encode("latin-1"),
        "Bearer test-host-key\u00e9".encode(),
    ],
)
def test_every_api_route_refuses_a_missing_or_wrong_host_key(
    team: World, rows: RowCounts, authorization: str | bytes | None
) -> None:
    _unlock_p1(team)
    anonymous = TestClient(team.api.app)
    headers = {"Authorization": authorization} if authorization is not None else {}
    routes = [
        (method.upper(), path)
        for path, operations in team.api.app.openapi()["paths"].items()
        if path.startswith("/api/v1")  # the CRM's /webhooks are signed by the CRM instead
        for method in operations
    ]
    assert len(routes) >= 12, routes
    before = rows()
    for method, template in routes:
        path = template.format(
            org_id="org1",
            person_id="p9",
            operation_id=1,
            user_id="u-admin",
            endpoint_id="0" * 32,
            entity="contact",
            record_id="p9",
        )
        body = {"id": "intruder", "name": "x"} if template == "/api/v1/orgs" else {}
        r = anonymous.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (method, path, r.text)
        assert "host API key" in r.json()["detail"]
    assert rows() == before


def test_a_stored_api_key_is_accepted_and_its_neighbour_refused(team: World) -> None:
    with team.rt.db.session() as session:
        session.add(ApiKey(name="ci", key_hash=hash_key("csk_stored")))
    client = TestClient(team.api.app)
    ok = client.post(
        "/api/v1/orgs",
        json={"id": "org3", "name": "Org 3"},
        headers={"Authorization": "Bearer csk_stored"},
    )
    assert ok.status_code == 201, ok.text
    no = client.get("/api/v1/orgs/org3/connection", headers={"Authorization": "Bearer csk_store"})
    assert no.status_code == 401
    assert no.json()["detail"] == "invalid host API key"


# -- unknown organisation --------------------------------------------------------------------------
ORG_ROUTES = [
    ("POST", "users", {"email": "new@acme.test"}),
    ("POST", "unlocks", {"person_id": "p1", "unlocked_by": "u-admin"}),
    ("GET", "connection", None),
    ("POST", "connection", {"provider": "hubspot"}),
    ("PATCH", "connection", {"preserve_manual_edits": True}),
    ("DELETE", "connection", None),
    ("POST", "connection/reconnect", None),
    ("POST", "connection/setup", {}),
    ("GET", "operations", None),
    ("POST", "operations/1/retry", None),
    ("POST", "operations/retry-failed", None),
    ("GET", "people/p1/sync", None),
]


@pytest.mark.parametrize(
    ("method", "tail", "body"), ORG_ROUTES, ids=[f"{m} {t}" for m, t, _ in ORG_ROUTES]
)
def test_unknown_org_is_404_naming_it(
    team: World, rows: RowCounts, method: str, tail: str, body: dict[str, Any] | None
) -> None:
    _synced_op(team)  # org1 has a connection, an operation 1 and a synced p1
    before = rows()
    r = team.api.request(method, f"/api/v1/orgs/ghost/{tail}", json=body)
    assert r.status_code == 404, r.text
    assert r.json()["detail"] == "organisation 'ghost' does not exist"
    assert rows() == before


# -- people ----------------------------------------------------------------------------------------
BAD_PEOPLE = {
    "bad email": ({"emails": ["ada.example.com"]}, "not an email address"),
    "non-http url": ({"linkedin_url": "javascript:alert(1)"}, "not an http(s) URL"),
    "ftp url": ({"profile_url": "ftp://example.com/p1"}, "not an http(s) URL"),
    "unknown field": ({"nickname": "Ada"}, "Extra inputs are not permitted"),
    "too long field": ({"title": "x" * 301}, "at most 300 characters"),
    "too long phone": ({"phones": ["1" * 41]}, "at most 40 characters"),
    "too many emails": ({"emails": [f"a{i}@x.test" for i in range(21)]}, "at most 20 items"),
    "wrong type": ({"emails": "ada@example.com"}, "Input should be a valid list"),
}


@pytest.mark.parametrize("case", sorted(BAD_PEOPLE))
def test_malformed_person_is_422_and_the_stored_person_is_untouched(
    team: World, rows: RowCounts, case: str
) -> None:
    team.person("p1", title="Engineer")
    body, message = BAD_PEOPLE[case]
    before = rows()
    r = team.api.put("/api/v1/people/p1", json={"first_name": "Changed", **body})
    assert r.status_code == 422, r.text
    assert message in r.text
    assert rows() == before
    with team.rt.db.session() as session:
        person = session.get_one(Person, "p1")
        assert (person.first_name, person.title) == ("Ada", "Engineer")


@pytest.mark.parametrize("person_id", ["-leading-dash", "has space", "x" * 129, "semi;colon"])
def test_bad_person_id_in_the_path_is_422(team: World, rows: RowCounts, person_id: str) -> None:
    before = rows()
    r = team.api.put(f"/api/v1/people/{person_id}", json={"first_name": "Ada"})
    assert r.status_code == 422, r.text
    assert "person_id" in r.text
    assert rows() == before


def test_valid_person_is_stored_and_echoed(team: World) -> None:
    body = {
        "first_name": "  Ada ",
        "emails": ["ada@example.com"],
        "linkedin_url": "https://www.linkedin.com/in/ada",
        "title": "x" * 300,
    }
    r = team.api.put("/api/v1/people/ada.l:1@x", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["person_id"] == "ada.l:1@x"
    assert r.json()["first_name"] == "Ada"
    with team.rt.db.session() as session:
        person = session.get_one(Person, "ada.l:1@x")
        assert (person.first_name, person.emails) == ("Ada", ["ada@example.com"])


# -- orgs and users --------------------------------------------------------------------------------
def test_duplicate_org_id_is_409(team: World, rows: RowCounts) -> None:
    before = rows()
    r = team.api.post("/api/v1/orgs", json={"id": "org1", "name": "Impostor"})
    assert r.status_code == 409
    assert r.json()["detail"] == "organisation 'org1' already exists"
    assert rows() == before


@pytest.mark.parametrize(
    ("org", "body", "message"),
    [
        ("org1", {"email": "ADMIN@acme.test"}, "already has a user with email admin@acme.test"),
        ("org2", {"id": "u-admin", "email": "fresh@beta.test"}, "user 'u-admin' already exists"),
    ],
)
def test_duplicate_user_is_409(
    team: World, rows: RowCounts, org: str, body: dict[str, str], message: str
) -> None:
    before = rows()
    r = team.api.post(f"/api/v1/orgs/{org}/users", json=body)
    assert r.status_code == 409, r.text
    assert message in r.json()["detail"]
    assert rows() == before


# -- unlocks ---------------------------------------------------------------------------------------
def test_more_than_1000_unlocks_in_one_call_are_422_naming_the_limit(
    team: World, rows: RowCounts
) -> None:
    """Like people lists: one call records at most 1,000 unlocks (checked before any query)."""
    team.person("p1")
    before = rows()
    many = [{"person_id": "p1", "unlocked_by": "u-admin"}] * 1001
    r = team.api.post("/api/v1/orgs/org1/unlocks", json=many)
    assert r.status_code == 422, r.text
    assert any("at most 1000 items" in issue["msg"] for issue in r.json()["detail"]), r.text
    assert rows() == before
    r = team.api.post("/api/v1/orgs/org1/unlocks", json=many[:1000])
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 1000 and r.json()["new"] == 1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"person_id": "ghost", "unlocked_by": "u-admin"}, "unknown person 'ghost'"),
        (
            {"person_id": "p2", "unlocked_by": "u-other"},
            "user 'u-other' is not a member of organisation 'org1'",
        ),
    ],
)
def test_one_bad_unlock_rejects_the_whole_list(
    team: World, rows: RowCounts, bad: dict[str, str], message: str
) -> None:
    team.connect("org1", skip_backfill=True)  # a partial write would also queue work
    for pid in ("p1", "p2"):
        team.person(pid)
    good = [
        {"person_id": "p1", "unlocked_by": "u-admin"},
        {"person_id": "p2", "unlocked_by": "u-member"},
    ]
    before = rows()
    r = team.api.post("/api/v1/orgs/org1/unlocks", json=[good[0], bad, good[1]])
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert rows() == before
    empty = team.api.post("/api/v1/orgs/org1/unlocks", json=[])
    assert empty.status_code == 422
    assert empty.json()["detail"] == "no unlocks given"


# -- connecting ------------------------------------------------------------------------------------
def test_connect_with_an_unknown_provider_is_422_naming_the_known_ones(
    team: World, rows: RowCounts
) -> None:
    before = rows()
    r = team.api.post("/api/v1/orgs/org1/connection", json={"provider": "no-such-crm"})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("unknown provider 'no-such-crm'; known providers: ")
    assert "hubspot" in r.json()["detail"]
    assert rows() == before


def test_second_connection_while_one_is_active_is_409(team: World, rows: RowCounts) -> None:
    team.connect("org1")
    before = rows()
    r = team.api.post("/api/v1/orgs/org1/connection", json={"provider": "hubspot"})
    assert r.status_code == 409
    assert "already connected to hubspot" in r.json()["detail"]
    assert "disconnect it before connecting another CRM" in r.json()["detail"]
    assert rows() == before


def test_a_connect_finished_after_another_crm_connected_meanwhile_is_409(
    team: World, rows: RowCounts
) -> None:
    """One CRM per organisation is the product's rule (the table no longer holds it): two
    authorisations started side by side, the second to come back is refused."""
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    started = [
        team.api.post("/api/v1/orgs/org1/connection", json={"provider": "hubspot"})
        for _ in range(2)
    ]
    assert [r.status_code for r in started] == [201, 201]
    team.authorize(started[0].json()["authorize_url"])
    before = rows()
    location = asyncio.run(
        consent(team.router, started[1].json()["authorize_url"], team.harness.consent_choices)
    )
    parts = urlsplit(location)
    r = team.api.get(f"{parts.path}?{parts.query}")
    assert r.status_code == 409, r.text
    assert "already connected to hubspot" in r.text  # (the popup page says it)
    assert "disconnect it before connecting another CRM" in r.text
    assert rows() == before
    with team.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Connection)) == 1


def test_patch_cannot_change_skip_backfill(team: World, rows: RowCounts) -> None:
    team.connect("org1")
    before = rows()
    body = {"skip_backfill": True, "preserve_manual_edits": True}
    r = team.api.patch("/api/v1/orgs/org1/connection", json=body)
    assert r.status_code == 422
    assert "skip_backfill" in r.text
    assert rows() == before
    status = team.status()
    assert (status["skip_backfill"], status["preserve_manual_edits"]) == (False, False)


# -- operations ------------------------------------------------------------------------------------
def test_retry_of_an_operation_that_did_not_fail_is_409(team: World, rows: RowCounts) -> None:
    op = _synced_op(team)
    assert op["status"] == "inserted"
    before = rows()
    r = team.api.post(f"/api/v1/orgs/org1/operations/{op['id']}/retry")
    assert r.status_code == 409
    assert r.json()["detail"] == f"operation {op['id']} is inserted; only failed or skipped retry"
    assert rows() == before


def test_retry_of_an_unknown_operation_is_404(team: World, rows: RowCounts) -> None:
    _synced_op(team)
    before = rows()
    r = team.api.post("/api/v1/orgs/org1/operations/999999/retry")
    assert r.status_code == 404
    assert r.json()["detail"] == "operation 999999 does not exist in organisation 'org1'"
    assert rows() == before


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus"}, "unknown status 'bogus'; one of pending, inserted"),
        ({"limit": 0}, "greater than or equal to 1"),
        ({"limit": 501}, "less than or equal to 500"),
    ],
)
def test_bad_operations_filter_is_422(team: World, params: dict[str, Any], message: str) -> None:
    _synced_op(team)
    r = team.api.get("/api/v1/orgs/org1/operations", params=params)
    assert r.status_code == 422
    assert message in r.text
