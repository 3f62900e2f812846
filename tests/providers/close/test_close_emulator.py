"""The Close emulator, asserted on what a connector sees: statuses, bodies, headers, records."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from crmsync.emulation import ManualClock
from crmsync.providers.close.emulator import CloseEmulator, CloseEmulatorConfig, create_app
from tests.support.consent import FormParser

APP = "https://app.close.com"
API = "https://api.close.com/api/v1"
REDIRECT = "https://app.crmsync.test/oauth/callback/close"


class Org:
    """One emulated Close and a client that connects like a browser, then calls like a connector."""

    def __init__(self, config: CloseEmulatorConfig | None = None) -> None:
        self.config = config or CloseEmulatorConfig()
        self.app = create_app(self.config)
        self.emulator: CloseEmulator = self.app.state.emulator
        self.http = TestClient(self.app, follow_redirects=False)
        self.orgs = list(self.emulator.store.organizations)
        self.token = ""

    def consent(self, org: str | None = None, decision: str = "allow") -> dict[str, str]:
        params = {
            "client_id": self.config.client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "all.full_access offline_access",
            "state": "st4te",
        }
        page = self.http.get(f"{APP}/oauth2/authorize/", params=params)
        assert page.status_code == 200, page.text
        form = FormParser()
        form.feed(page.text)
        assert form.options["organization_id"] == self.orgs
        data = {**form.fields, "organization_id": org or self.orgs[0], "decision": decision}
        answer = self.http.post(f"{APP}{form.action}", data=data)
        assert answer.status_code == 302, answer.text
        return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}

    def exchange(self, **form: str) -> httpx.Response:
        body = {
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "redirect_uri": REDIRECT,
            **form,
        }
        return self.http.post("https://api.close.com/oauth2/token/", data=body)

    def connect(self, org: str | None = None) -> dict[str, Any]:
        code = self.consent(org)["code"]
        grant: dict[str, Any] = self.exchange(grant_type="authorization_code", code=code).json()
        self.token = grant["access_token"]
        return grant

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.http.request(method, f"{API}{path}", headers=headers, **kwargs)

    def field(self, name: str, kind: str = "text", **extra: Any) -> str:
        r = self.call("POST", "/custom_field/contact/", json={"name": name, "type": kind, **extra})
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


@pytest.fixture
def org() -> Org:
    instance = Org()
    instance.connect()
    return instance


def test_consent_page_offers_each_organization_and_the_token_names_the_chosen_one() -> None:
    close = Org()
    grant = close.connect(close.orgs[1])
    assert grant["token_type"] == "Bearer"
    assert grant["organization_id"] == close.orgs[1]
    assert grant["scope"] == "all.full_access offline_access"
    assert grant["expires_in"] == 3600 and grant["refresh_token"]
    me = close.call("GET", "/me/").json()
    assert me["email"] == close.config.admin_email
    assert [o["id"] for o in me["organizations"]] == close.orgs


def test_denied_consent_redirects_with_access_denied() -> None:
    close = Org()
    assert close.consent(decision="deny") == {"error": "access_denied", "state": "st4te"}


def test_token_endpoint_refuses_bad_clients_reused_codes_and_rotated_refresh_tokens() -> None:
    close = Org()
    code = close.consent()["code"]
    wrong = close.exchange(grant_type="authorization_code", code=code, client_secret="nope")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert close.exchange(grant_type="authorization_code", code=code).status_code == 200
    reused = close.exchange(grant_type="authorization_code", code=code)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    grant = close.connect()
    fresh = close.exchange(grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != grant["refresh_token"]
    old = close.exchange(grant_type="refresh_token", refresh_token=grant["refresh_token"])
    assert old.status_code == 400
    assert old.json()["error"] == "invalid_grant"


def test_api_calls_without_valid_credentials_get_401(org: Org) -> None:
    org.token = "access_unknown"
    r = org.call("GET", "/me/")
    assert r.status_code == 401
    assert "invalid" in r.json()["error"]
    org.emulator.oauth.expire_access_tokens()
    assert org.call("GET", "/lead/").status_code == 401


def test_an_api_key_works_as_http_basic_user_name() -> None:
    close = Org()
    key = base64.b64encode(f"{close.config.api_key}:".encode()).decode()
    r = close.http.get(f"{API}/me/", headers={"Authorization": f"Basic {key}"})
    assert r.status_code == 200
    assert r.json()["email"] == close.config.admin_email


def test_lead_is_created_with_nested_contacts_and_updated_without_them(org: Org) -> None:
    person_id = org.field("Acme Person ID")
    lead = {
        "name": "Navy",
        "addresses": [{"city": "Arlington", "country": "US"}],
        "contacts": [
            {
                "name": "Grace Hopper",
                "title": "Admiral",
                "emails": [{"email": "grace@navy.example", "type": "office"}],
                "urls": [{"url": "https://linkedin.com/in/grace", "type": "url"}],
                f"custom.{person_id}": "p1",
            }
        ],
    }
    created = org.call("POST", "/lead/", json=lead)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["id"].startswith("lead_") and body["name"] == "Navy"
    assert body["addresses"] == [{"city": "Arlington", "country": "US", "label": "business"}]
    [contact] = body["contacts"]
    assert contact["id"].startswith("cont_") and contact["lead_id"] == body["id"]
    assert contact[f"custom.{person_id}"] == "p1"
    assert contact["custom"] == {"Acme Person ID": "p1"}
    renamed = org.call("PUT", f"/lead/{body['id']}/", json={"name": "US Navy", "contacts": []})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "US Navy"
    assert [c["id"] for c in renamed.json()["contacts"]] == [contact["id"]]
    fetched = org.call("GET", f"/lead/{body['id']}/", params={"_fields": "id,name"}).json()
    assert fetched == {"id": body["id"], "name": "US Navy"}


def test_contacts_are_created_on_a_lead_or_a_new_one_and_updated_key_by_key(org: Org) -> None:
    lead = org.call("POST", "/lead/", json={"name": "Analytical Engines"}).json()
    on_lead = org.call("POST", "/contact/", json={"lead_id": lead["id"], "name": "Ada"}).json()
    assert on_lead["lead_id"] == lead["id"]
    alone = org.call("POST", "/contact/", json={"name": "Charles"}).json()
    assert alone["lead_id"] != lead["id"]
    updated = org.call("PUT", f"/contact/{on_lead['id']}/", json={"title": "Countess"}).json()
    assert (updated["name"], updated["title"]) == ("Ada", "Countess")
    got = org.call("GET", f"/contact/{on_lead['id']}/", params={"_fields": "id,title"})
    assert got.json() == {"id": on_lead["id"], "title": "Countess"}
    missing = org.call("PUT", "/contact/cont_missing/", json={"title": "x"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "Contact not found."}


def test_lists_page_with_skip_and_limit_into_data_and_has_more(org: Org) -> None:
    for name in ("a", "b", "c"):
        org.call("POST", "/lead/", json={"name": name})
    first = org.call("GET", "/lead/", params={"_skip": 0, "_limit": 2}).json()
    assert [lead["name"] for lead in first["data"]] == ["a", "b"] and first["has_more"] is True
    last = org.call("GET", "/lead/", params={"_skip": 2, "_limit": 2}).json()
    assert [lead["name"] for lead in last["data"]] == ["c"] and last["has_more"] is False
    too_many = org.call("GET", "/lead/", params={"_limit": 500})
    assert too_many.status_code == 400
    assert "_limit" in too_many.json()["field-errors"]


def test_invalid_values_get_400_with_errors_and_field_errors(org: Org) -> None:
    owner = org.field("Acme Owner", "user")
    bad = {
        "name": "X",
        "contacts": [
            {"emails": [{"email": "not-an-email"}], f"custom.{owner}": "user_nobody"},
        ],
    }
    r = org.call("POST", "/lead/", json=bad)
    assert r.status_code == 400
    assert r.json() == {
        "errors": [],
        "field-errors": {
            "contacts": {
                "0": {
                    "emails": {"0": {"email": "Invalid email address."}},
                    f"custom.{owner}": "Not a valid user id: 'user_nobody'.",
                }
            }
        },
    }
    assert org.call("GET", "/lead/").json()["data"] == []  # nothing written
    country = org.call("POST", "/lead/", json={"addresses": [{"country": "Germany"}]})
    assert country.json()["field-errors"] == {
        "addresses": {"0": {"country": "Not a valid ISO 3166 country code."}}
    }


def test_custom_fields_are_listed_created_and_checked(org: Org) -> None:
    org.field("Acme Person ID")
    org.field("Acme Owner", "user")
    org.field("Tier", "choices", choices=["A", "B"])
    listed = org.call("GET", "/custom_field/contact/").json()
    assert [(f["name"], f["type"]) for f in listed["data"]] == [
        ("Acme Person ID", "text"),
        ("Acme Owner", "user"),
        ("Tier", "choices"),
    ]
    assert listed["has_more"] is False
    duplicate = org.call("POST", "/custom_field/contact/", json={"name": "Tier", "type": "text"})
    assert duplicate.status_code == 400
    assert duplicate.json()["field-errors"] == {
        "name": "A custom field with this name already exists."
    }
    no_choices = org.call("POST", "/custom_field/contact/", json={"name": "C", "type": "choices"})
    assert "choices" in no_choices.json()["field-errors"]


def test_a_user_field_accepts_members_of_the_organization(org: Org) -> None:
    owner = org.field("Acme Owner", "user")
    member = org.emulator.add_user("sam@acme.test", "Sam", "Else")
    users = org.call("GET", "/user/").json()
    assert {u["email"] for u in users["data"]} == {org.config.admin_email, "sam@acme.test"}
    contact = org.call("POST", "/contact/", json={f"custom.{owner}": member}).json()
    assert contact[f"custom.{owner}"] == member


def _search(org: Org, field_id: str, values: list[str], **extra: Any) -> httpx.Response:
    query = {
        "type": "and",
        "queries": [
            {"type": "object_type", "object_type": "contact"},
            {
                "type": "field_condition",
                "field": {"type": "custom_field", "custom_field_id": field_id},
                "condition": {"type": "term", "values": values},
            },
        ],
    }
    return org.call("POST", "/data/search/", json={"query": query, **extra})


def test_search_finds_contacts_by_a_custom_field_term_page_by_page(org: Org) -> None:
    person_id = org.field("Acme Person ID")
    for pid in ("a", "b", "c"):
        org.call("POST", "/contact/", json={"name": pid, f"custom.{person_id}": pid})
    fields = {"contact": ["id", "lead_id", f"custom.{person_id}"]}
    first = _search(org, person_id, ["a", "c", "zz"], _fields=fields, _limit=1).json()
    assert [row[f"custom.{person_id}"] for row in first["data"]] == ["a"]
    assert first["data"][0]["__object_type"] == "contact"
    assert set(first["data"][0]) == {"__object_type", "id", "lead_id", f"custom.{person_id}"}
    second = _search(org, person_id, ["a", "c"], _fields=fields, _limit=1, cursor=first["cursor"])
    assert [row[f"custom.{person_id}"] for row in second.json()["data"]] == ["c"]
    assert second.json()["cursor"] is None
    bare = _search(org, person_id, ["b"]).json()["data"]
    assert set(bare[0]) == {"__object_type", "id"}


def test_search_by_term_follows_updates_removals_and_agrees_with_a_full_scan(org: Org) -> None:
    """Term searches are answered from a value index; it must track every write, and give
    what scanning every contact gives (a negated term forces the scan)."""
    person_id = org.field("Acme Person ID")
    ids = {
        pid: org.call("POST", "/contact/", json={"name": pid, f"custom.{person_id}": pid}).json()[
            "id"
        ]
        for pid in ("a", "b", "c")
    }
    org.call("PUT", f"/contact/{ids['a']}/", json={f"custom.{person_id}": "a2"})
    org.call("PUT", f"/contact/{ids['b']}/", json={f"custom.{person_id}": None})

    def found(values: list[str]) -> set[str]:
        return {row["id"] for row in _search(org, person_id, values, _limit=200).json()["data"]}

    assert found(["a"]) == set() and found(["b"]) == set()
    assert found(["a2", "c"]) == {ids["a"], ids["c"]}
    scan = {
        "type": "and",
        "queries": [
            {"type": "object_type", "object_type": "contact"},
            {
                "negate": True,
                "type": "field_condition",
                "field": {"type": "custom_field", "custom_field_id": person_id},
                "condition": {"type": "term", "values": ["a2", "c"]},
            },
        ],
    }
    rows = org.call("POST", "/data/search/", json={"query": scan, "_limit": 200}).json()["data"]
    assert {row["id"] for row in rows} == {ids["b"]}


def test_search_refuses_queries_it_does_not_understand(org: Org) -> None:
    r = org.call("POST", "/data/search/", json={"query": {"type": "smart_view", "id": "x"}})
    assert r.status_code == 400
    assert r.json() == {"errors": ["Unsupported query type: 'smart_view'."], "field-errors": {}}


def test_rate_limit_answers_429_with_rate_reset_and_the_ratelimit_header() -> None:
    clock = ManualClock()
    close = Org(CloseEmulatorConfig(max_requests=2, interval_seconds=10.0, clock=clock))
    close.connect()
    ok = close.call("GET", "/user/")
    assert ok.headers["RateLimit"] == "limit=2, remaining=1, reset=10"
    clock.advance(4)
    close.call("GET", "/user/")
    refused = close.call("GET", "/user/")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["rate_reset"] == pytest.approx(6.0)
    assert (error["rate_limit"], error["rate_limit_type"]) == (2, "key")
    assert refused.headers["RateLimit"] == "limit=2, remaining=0, reset=6"
    assert close.call("GET", "/me/").status_code == 200  # another endpoint group
    clock.advance(6)
    assert close.call("GET", "/user/").status_code == 200


def test_the_organization_limit_is_three_times_the_key_limit() -> None:
    close = Org(CloseEmulatorConfig(max_requests=1, interval_seconds=60.0))
    answers = []
    for _ in range(4):  # four tokens: four keys of one organisation
        close.connect()
        answers.append(close.call("GET", "/user/"))
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["rate_limit_type"] == "organization"


def test_a_create_can_commit_and_then_lose_its_answer(org: Org) -> None:
    r = org.http.put("/_emulator/fault-scope", json={"endpoints": ["POST /api/v1/lead/"]})
    assert r.json() == {"endpoints": ["POST /api/v1/lead/"]}
    org.emulator.faults.configure(rates={"timeout_after": 1.0})
    with pytest.raises(httpx.ReadTimeout):
        org.call("POST", "/lead/", json={"name": "Lost answer"})
    assert org.call("GET", "/user/").status_code == 200  # outside the scope: no fault
    stored = org.http.get("/_emulator/leads").json()
    assert [lead["name"] for lead in stored["data"]] == ["Lost answer"]
    assert org.emulator.faults.counts()["timeout_after"] == 1


def test_injected_status_faults_use_closes_bodies(org: Org) -> None:
    org.emulator.faults.configure(burst_429=1)
    limited = org.call("GET", "/lead/")
    assert limited.status_code == 429
    assert limited.json()["error"]["rate_reset"] == pytest.approx(1.0)
    org.emulator.faults.configure(rates={"503": 1.0})
    unavailable = org.call("GET", "/lead/")
    assert unavailable.status_code == 503
    assert unavailable.json() == {"error": "Service temporarily unavailable."}
    counters = org.http.get("/_emulator/counters").json()["by_endpoint"]
    assert counters["GET /api/v1/lead/"] == 2
