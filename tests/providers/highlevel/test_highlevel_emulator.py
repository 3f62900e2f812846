"""The HighLevel emulator, asserted on what a connector sees: statuses, bodies, headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from crmsync.emulation import ManualClock
from crmsync.providers.highlevel.emulator import (
    HighLevelEmulator,
    HighLevelEmulatorConfig,
    create_app,
)
from crmsync.providers.highlevel.spec import SCOPES
from tests.support.consent import FormParser

API = "https://services.leadconnectorhq.com"
REDIRECT = "https://app.crmsync.test/oauth/callback/highlevel"
VERSION = {"Version": "2021-07-28"}


class Agency:
    """One emulated agency and a client that connects to it like a browser and a connector."""

    def __init__(self, config: HighLevelEmulatorConfig | None = None) -> None:
        self.config = config or HighLevelEmulatorConfig()
        self.app = create_app(self.config)
        self.emulator: HighLevelEmulator = self.app.state.emulator
        self.http = TestClient(self.app, base_url=API, follow_redirects=False)
        self.locations = [loc.id for loc in self.emulator.store.location_list()]

    def consent(self, location: str | None = None, decision: str = "allow") -> dict[str, str]:
        params = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": REDIRECT,
            "scope": " ".join(SCOPES),
            "state": "st4te",
        }
        page = self.http.get(
            "https://marketplace.gohighlevel.com/oauth/chooselocation", params=params
        )
        assert page.status_code == 200, page.text
        form = FormParser()
        form.feed(page.text)
        assert form.options["locationId"] == self.locations
        data = {**form.fields, "locationId": location or self.locations[0], "decision": decision}
        answer = self.http.post(f"https://marketplace.gohighlevel.com{form.action}", data=data)
        assert answer.status_code == 302, answer.text
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}

    def token(self, **form: str) -> Any:
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "user_type": "Location",
            **form,
        }
        return self.http.post("/oauth/token", data=body)

    def connect(self, location: str | None = None) -> dict[str, Any]:
        code = self.consent(location)["code"]
        r = self.token(grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
        assert r.status_code == 200, r.text
        tokens: dict[str, Any] = r.json()
        self.http.headers.update({**VERSION, "Authorization": f"Bearer {tokens['access_token']}"})
        return tokens

    def field(self, name: str) -> str:
        location = self.locations[0]
        r = self.http.post(
            f"/locations/{location}/customFields", json={"name": name, "dataType": "TEXT"}
        )
        assert r.status_code == 201, r.text
        return str(r.json()["customField"]["id"])

    def create(self, **body: Any) -> Any:
        return self.http.post("/contacts/", json={"locationId": self.locations[0], **body})


@pytest.fixture
def agency() -> Iterator[Agency]:
    yield Agency()


def test_chooselocation_binds_the_tokens_to_the_picked_location(agency: Agency) -> None:
    tokens = agency.connect(agency.locations[1])
    assert tokens["locationId"] == agency.locations[1]
    assert tokens["companyId"] == agency.config.company_id
    assert tokens["userId"] == agency.emulator.admin_id
    assert tokens["expires_in"] == 86_399
    assert tokens["userType"] == "Location"
    assert agency.emulator.chosen_location_id == agency.locations[1]
    r = agency.http.get(f"/locations/{agency.locations[0]}")
    assert r.status_code == 403
    r = agency.http.get(f"/locations/{agency.locations[1]}")
    assert r.json()["location"]["name"] == "Harbor Fitness"


def test_deny_redirects_with_an_error_and_an_unknown_app_gets_an_error_page(
    agency: Agency,
) -> None:
    assert agency.consent(decision="deny") == {"error": "access_denied", "state": "st4te"}
    page = agency.http.get(
        "https://marketplace.gohighlevel.com/oauth/chooselocation",
        params={"client_id": "nobody", "redirect_uri": REDIRECT, "response_type": "code"},
    )
    assert page.status_code == 400
    assert "nobody" in page.text


def test_each_refresh_issues_a_new_refresh_token_and_retires_the_old_one(agency: Agency) -> None:
    tokens = agency.connect()
    r = agency.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert r.status_code == 200
    fresh = r.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["locationId"] == tokens["locationId"]
    again = agency.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert (
        agency.token(grant_type="refresh_token", refresh_token="x", client_secret="no").json()[
            "error"
        ]
        == "invalid_client"
    )


def test_api_calls_need_the_version_header_a_valid_token_and_the_scope(agency: Agency) -> None:
    tokens = agency.connect()
    location = agency.locations[0]
    r = agency.http.get(f"/locations/{location}", headers={"Version": ""})
    assert (r.status_code, r.json()["message"]) == (400, "Version header was not found")
    r = agency.http.get(f"/locations/{location}", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    }
    agency.emulator.oauth.expire_access_tokens()
    assert agency.http.get(f"/locations/{location}").status_code == 401
    code = agency.consent()["code"]
    limited = agency.emulator.oauth.exchange_code(
        code=code, client_id=agency.config.client_id, redirect_uri=REDIRECT
    )
    limited.access_token.scopes = ("contacts.readonly",)
    r = agency.http.post(
        "/contacts/",
        json={"locationId": location},
        headers={"Authorization": f"Bearer {limited.access_token.token}"},
    )
    assert r.json()["message"] == "The token is not authorized for this scope."
    assert tokens["scope"].split() == list(SCOPES)


def test_duplicate_email_or_phone_is_refused_until_the_location_allows_it(
    agency: Agency,
) -> None:
    agency.connect()
    first = agency.create(firstName="Ada", lastName="Lovelace", email="ada@example.com")
    assert first.status_code == 201
    first_id = first.json()["contact"]["id"]
    r = agency.create(email="ADA@example.com")
    assert r.status_code == 400
    assert r.json() == {
        "statusCode": 400,
        "message": "This location does not allow duplicated contacts.",
        "meta": {"contactName": "Ada Lovelace", "contactId": first_id, "matchingField": "email"},
    }
    agency.create(phone="+1 (512) 555-0100")
    r = agency.create(phone="+15125550100", email="other@example.com")
    assert r.json()["meta"]["matchingField"] == "phone"
    location = agency.locations[0]
    r = agency.http.put(
        f"/_emulator/locations/{location}/settings", json={"allowDuplicateContact": True}
    )
    assert r.json()["settings"]["allowDuplicateContact"] is True
    assert agency.create(email="ada@example.com").status_code == 201
    assert len(agency.emulator.store.snapshot(location)) == 3


def test_update_into_another_contacts_email_is_a_duplicate_too(agency: Agency) -> None:
    agency.connect()
    agency.create(email="one@example.com")
    second = agency.create(email="two@example.com").json()["contact"]["id"]
    r = agency.http.put(f"/contacts/{second}", json={"email": "one@example.com"})
    assert r.json()["meta"]["matchingField"] == "email"
    r = agency.http.put(f"/contacts/{second}", json={"firstName": "Two", "assignedTo": None})
    assert r.status_code == 200
    assert r.json()["succeded"] is True
    assert r.json()["contact"]["firstName"] == "Two"
    assert agency.http.put("/contacts/nope", json={}).json() == {
        "statusCode": 400,
        "message": "Contact not found",
    }


def test_invalid_bodies_get_422_with_one_message_per_problem(agency: Agency) -> None:
    agency.connect()
    r = agency.create(email="not-an-email", title="CTO", customFields=[{"id": "x"}])
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "Unprocessable Entity"
    assert body["message"] == [
        "property title should not exist",
        "email must be an email",
        "customFields.0 refers to an unknown custom field 'x'",
    ]
    r = agency.http.post("/contacts/", json={"firstName": "No location"})
    assert r.status_code == 422
    assert "locationId should not be empty" in r.json()["message"]
    r = agency.create(assignedTo="someone-else")
    assert r.status_code == 422


def test_search_finds_contacts_by_custom_field_values_in_one_or_group(agency: Agency) -> None:
    agency.connect()
    field = agency.field("Acme Person ID")
    for i in range(5):
        r = agency.create(customFields=[{"id": field, "field_value": f"p{i}"}])
        assert r.status_code == 201
    location = agency.locations[0]
    group = [
        {"field": f"customFields.{field}", "operator": "eq", "value": v} for v in ("p1", "p3", "x")
    ]
    body = {"locationId": location, "pageLimit": 10, "filters": [{"group": "OR", "filters": group}]}
    r = agency.http.post("/contacts/search", json=body)
    assert r.status_code == 200
    hits = r.json()["contacts"]
    assert r.json()["total"] == 2
    assert sorted(h["customFields"][0]["value"] for h in hits) == ["p1", "p3"]
    page = agency.http.post("/contacts/search", json={"locationId": location, "pageLimit": 2})
    assert page.json()["total"] == 5 and len(page.json()["contacts"]) == 2
    after = page.json()["contacts"][-1]["searchAfter"]
    rest = agency.http.post(
        "/contacts/search", json={"locationId": location, "pageLimit": 10, "searchAfter": after}
    )
    seen = [h["id"] for h in page.json()["contacts"] + rest.json()["contacts"]]
    assert len(seen) == len(set(seen)) == 5
    long = {"field": f"customFields.{field}", "operator": "eq", "value": "x" * 76}
    r = agency.http.post("/contacts/search", json={"locationId": location, "filters": [long]})
    assert r.status_code == 422


def test_upsert_and_duplicate_search_match_on_email(agency: Agency) -> None:
    agency.connect()
    location = agency.locations[0]
    r = agency.http.post(
        "/contacts/upsert", json={"locationId": location, "email": "u@example.com"}
    )
    assert r.json()["new"] is True
    r = agency.http.post(
        "/contacts/upsert",
        json={"locationId": location, "email": "u@example.com", "lastName": "Later"},
    )
    assert r.json()["new"] is False
    assert r.json()["contact"]["lastName"] == "Later"
    found = agency.http.get(
        "/contacts/search/duplicate", params={"locationId": location, "email": "U@example.com"}
    )
    assert found.json()["contact"]["id"] == r.json()["contact"]["id"]
    none = agency.http.get(
        "/contacts/search/duplicate", params={"locationId": location, "email": "z@example.com"}
    )
    assert none.json() == {"contact": None}


def test_custom_fields_get_a_field_key_and_names_are_unique(agency: Agency) -> None:
    agency.connect()
    location = agency.locations[0]
    agency.field("Acme Person ID")
    r = agency.http.get(f"/locations/{location}/customFields", params={"model": "contact"})
    [field] = r.json()["customFields"]
    assert field["fieldKey"] == "contact.acme_person_id"
    assert field["dataType"] == "TEXT" and field["model"] == "contact"
    again = agency.http.post(
        f"/locations/{location}/customFields", json={"name": "acme person id", "dataType": "TEXT"}
    )
    assert again.status_code == 400
    bad = agency.http.post(f"/locations/{location}/customFields", json={"name": "X"})
    assert bad.status_code == 422


def test_users_search_lists_the_users_of_the_location(agency: Agency) -> None:
    store = agency.emulator.store
    first, second = agency.locations
    store.add_user("here@example.com", "Here", "User", [first])
    store.add_user("there@example.com", "There", "User", [second])
    agency.connect()
    params = {"companyId": agency.config.company_id, "locationId": first}
    r = agency.http.get("/users/search", params=params)
    emails = {u["email"] for u in r.json()["users"]}
    assert emails == {agency.config.admin_email, "here@example.com"}
    assert r.json()["count"] == 2
    r = agency.http.get("/users/search", params={**params, "skip": "1", "limit": "1"})
    assert len(r.json()["users"]) == 1 and r.json()["count"] == 2
    r = agency.http.get("/users/search", params={"companyId": "other"})
    assert r.status_code == 403


def test_burst_and_daily_limits_answer_429_with_rate_limit_headers() -> None:
    clock = ManualClock()
    agency = Agency(
        HighLevelEmulatorConfig(max_requests=3, interval_seconds=10, daily_requests=5, clock=clock)
    )
    agency.connect()
    location = f"/locations/{agency.locations[0]}"
    answers = [agency.http.get(location) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Max"] == "3"
    assert answers[0].headers["X-RateLimit-Remaining"] == "2"
    assert answers[0].headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert answers[0].headers["X-RateLimit-Limit-Daily"] == "5"
    assert answers[3].headers["X-RateLimit-Remaining"] == "0"
    assert answers[3].json()["statusCode"] == 429
    clock.advance(10)
    assert [agency.http.get(location).status_code for _ in range(3)] == [200, 200, 429]
    assert agency.http.get(location).headers["X-RateLimit-Daily-Remaining"] == "0"


def test_faults_and_counters_are_controlled_under_emulator(agency: Agency) -> None:
    agency.connect()
    location = f"/locations/{agency.locations[0]}"
    r = agency.http.put("/_emulator/faults", json={"rates": {"500": 1.0}})
    assert r.status_code == 200
    failed = agency.http.get(location)
    assert failed.status_code == 500
    assert failed.json()["statusCode"] == 500
    agency.http.put("/_emulator/faults", json={"rates": {}})
    assert agency.http.get(location).status_code == 200
    counters = agency.http.get("/_emulator/counters").json()["by_endpoint"]
    assert counters["GET /locations/{locationId}"] == 2
    assert counters["POST /oauth/token"] == 1
    assert agency.http.get("/_emulator/faults").json()["injected"]["500"] == 1
