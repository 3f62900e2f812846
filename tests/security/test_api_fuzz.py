"""Schemathesis over the REST API's OpenAPI schema: no 5xx, only declared answers, and every
rejected request (4xx) is a clear message that wrote nothing.

Each operation is fuzzed on a fresh, seeded crmsync (SQLite, HubSpot emulator): two orgs with
users, synced and unsynced people, a connected HubSpot connection with its operations, and a
pending authorisation for org2. Half the cases put the seeded ids in the path (``org1``, ``p1``,
an existing operation id) so routes are exercised past their 404s; the others are random.
Positive and negative (schema-violating) cases are both generated; Schemathesis authenticates
with the host API key except in the negative cases that leave the key out on purpose.

The OAuth callback is fuzzed too (random states, codes and errors, plus org2's real pending
state): without a browser's consent it can only be refused, and a refused callback spends its
state on purpose (single use), so ``oauth_states`` is the one table it may change on a 4xx.

The end of the file keeps, as deterministic regression tests, the bugs found while fuzzing,
including the ones found by probing past what Schemathesis generates (integers beyond 64 bits,
lone surrogates, NUL characters, PostgreSQL column lengths).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from crmsync.db.tables import Base
from tests.support.world import API_KEY, World, world

# Bounded and deterministic by default; CRMSYNC_FUZZ_EXAMPLES=500 CRMSYNC_FUZZ_RANDOM=1 digs deeper.
MAX_EXAMPLES = int(os.environ.get("CRMSYNC_FUZZ_EXAMPLES", "25"))
DERANDOMIZE = not os.environ.get("CRMSYNC_FUZZ_RANDOM")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CONFIG = {"auth": {"openapi": {"HTTPBearer": {"bearer": API_KEY}}}}

# Every operation of the schema; test_every_operation_is_fuzzed keeps this list complete.
OPERATIONS = [
    ("PUT", "/api/v1/people/{person_id}"),
    ("PUT", "/api/v1/people"),
    ("POST", "/api/v1/orgs"),
    ("POST", "/api/v1/orgs/{org_id}/users"),
    ("PATCH", "/api/v1/orgs/{org_id}/users/{user_id}"),
    ("POST", "/api/v1/orgs/{org_id}/unlocks"),
    ("POST", "/api/v1/orgs/{org_id}/conversations"),
    ("GET", "/api/v1/providers"),
    ("POST", "/api/v1/orgs/{org_id}/connection"),
    ("GET", "/api/v1/orgs/{org_id}/connection"),
    ("PATCH", "/api/v1/orgs/{org_id}/connection"),
    ("DELETE", "/api/v1/orgs/{org_id}/connection"),
    ("POST", "/api/v1/orgs/{org_id}/connection/api-key"),
    ("POST", "/api/v1/orgs/{org_id}/connection/setup"),
    ("POST", "/api/v1/orgs/{org_id}/connection/reconnect"),
    ("GET", "/api/v1/orgs/{org_id}/operations"),
    ("POST", "/api/v1/orgs/{org_id}/operations/{operation_id}/retry"),
    ("POST", "/api/v1/orgs/{org_id}/operations/retry-failed"),
    ("GET", "/api/v1/orgs/{org_id}/people/{person_id}/sync"),
    ("POST", "/api/v1/orgs/{org_id}/people/{person_id}/sync"),
    ("PUT", "/api/v1/orgs/{org_id}/people/{person_id}/score"),
    ("PUT", "/api/v1/orgs/{org_id}/people/{person_id}/todo"),
    ("POST", "/api/v1/orgs/{org_id}/connection/sync"),
    ("POST", "/api/v1/orgs/{org_id}/connection/preview"),
    ("GET", "/api/v1/orgs/{org_id}/changes"),
    ("POST", "/api/v1/orgs/{org_id}/webhooks"),
    ("GET", "/api/v1/orgs/{org_id}/webhooks"),
    ("DELETE", "/api/v1/orgs/{org_id}/webhooks/{endpoint_id}"),
    ("GET", "/api/v1/orgs/{org_id}/webhooks/{endpoint_id}/deliveries"),
    ("GET", "/api/v1/orgs/{org_id}/records/{entity}/{record_id}"),
    ("GET", "/api/v1/orgs/{org_id}/fields"),
    ("PUT", "/api/v1/orgs/{org_id}/fields"),
    ("GET", "/api/v1/orgs/{org_id}/connection/fields"),
    ("GET", "/api/v1/orgs/{org_id}/connection/mappings"),
    ("PUT", "/api/v1/orgs/{org_id}/connection/mappings"),
    ("GET", "/oauth/callback/{provider}"),
    ("POST", "/webhooks/{provider}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]
UNPARAMETERISED = {
    "/api/v1/people",
    "/api/v1/orgs",
    "/api/v1/providers",
    "/healthz",
    "/readyz",
    "/metrics",
}


def snapshot(w: World) -> dict[str, tuple[int, str]]:
    """Per table: its row count and a digest of every row, so updates show as well as inserts."""
    found: dict[str, tuple[int, str]] = {}
    with w.rt.db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            found[table.name] = (len(rows), digest)
    return found


class Seeded:
    def __init__(self, w: World) -> None:
        self.w = w
        w.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        w.org("org2", {"u-other": "other@beta.test"})
        w.harness.add_user("admin@acme.test", "Ann", "Admin")
        w.connect("org1")
        for pid in ("p1", "p2", "p3"):
            w.person(pid)
        for pid in ("p1", "p2"):
            w.unlock("org1", pid, "u-admin")
        w.drain()
        self.operation_ids = [op["id"] for op in w.operations("org1")]
        assert self.operation_ids
        hook = w.api.post("/api/v1/orgs/org1/webhooks", json={"url": "https://host.test/hook"})
        assert hook.status_code == 201, hook.text
        self.endpoint_ids = [hook.json()["id"]]
        r = w.api.post("/api/v1/orgs/org2/connection", json={"provider": "hubspot"})
        assert r.status_code == 201, r.text
        self.state = parse_qs(urlsplit(r.json()["authorize_url"]).query)["state"][0]

    def known_path(self, operation: APIOperation) -> st.SearchStrategy[dict[str, Any]]:
        known: dict[str, st.SearchStrategy[Any]] = {
            "org_id": st.sampled_from(["org1", "org2"]),
            "person_id": st.sampled_from(["p1", "p2", "p3"]),
            "user_id": st.sampled_from(["u-admin", "u-member", "u-other"]),
            "operation_id": st.sampled_from(self.operation_ids),
            "provider": st.just("hubspot"),
            "endpoint_id": st.sampled_from(self.endpoint_ids),
            "entity": st.just("contact"),
            "record_id": st.sampled_from(["p1", "p2", "p3"]),
        }
        names = sorted(p.name for p in operation.path_parameters)
        return st.fixed_dictionaries({name: known[name] for name in names})

    def cases(self, operation: APIOperation) -> st.SearchStrategy[Case]:
        """Random and seeded-path cases, positive and negative. Negative cases that only drop
        the API key are kept to the seeded branch, so they do not crowd out bad input."""
        schema = operation.schema
        query = {"state": self.state} if operation.path.startswith("/oauth/") else None
        random_bad = operation.as_strategy(GenerationMode.NEGATIVE).filter(
            lambda case: not schema.is_security_param_negated(case)
        )
        branches = [operation.as_strategy(GenerationMode.POSITIVE), random_bad]
        if operation.path not in UNPARAMETERISED:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                branches.append(
                    self.known_path(operation).flatmap(
                        lambda path, mode=mode: operation.as_strategy(
                            mode, path_parameters=path, query=query
                        )
                    )
                )
        return st.one_of(branches)


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    with world(f"sqlite:///{tmp_path}/crmsync.db", tmp_path, "hubspot") as w:
        yield Seeded(w)


def _clear(response: Any) -> bool:
    """A refusal says why: a JSON ``detail``, or for the OAuth popup a page saying so."""
    if response.headers.get("content-type", [""])[0].startswith("text/html"):
        return "Could not connect" in response.text
    detail = response.json().get("detail")
    return bool(detail) and isinstance(detail, str | list)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzz_operation(seeded: Seeded, method: str, path: str) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", seeded.w.api.app, config=schemathesis.Config.from_dict(CONFIG)
    )
    operation = schema[path][method]
    may_change = {"oauth_states"} if path.startswith("/oauth/") else set()
    statuses: set[int] = set()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=seeded.cases(operation))
    def fuzz(case: Case) -> None:
        before = snapshot(seeded.w)
        response = case.call_and_validate(checks=CHECKS)
        statuses.add(response.status_code)
        if 400 <= response.status_code < 500:
            assert _clear(response), f"{case.method} {case.formatted_path}: {response.text!r}"
            after = snapshot(seeded.w)
            changed = sorted(t for t in after if after[t] != before[t] and t not in may_change)
            assert not changed, (
                f"{case.method} {case.formatted_path} was refused ({response.status_code}) "
                f"but wrote {changed}"
            )

    fuzz()
    # the CRM's callbacks (OAuth, webhooks) answer every stranger alike: refused, nothing kept
    if path not in UNPARAMETERISED and not path.startswith(("/oauth/", "/webhooks/")):
        assert statuses - {401, 404}, f"{method} {path} never got past auth and lookup"


def test_every_operation_is_fuzzed(seeded: Seeded) -> None:
    spec = seeded.w.api.get("/openapi.json").json()
    found = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert found == set(OPERATIONS)


# -- regressions found while fuzzing ---------------------------------------------------------------
def _anyone(w: World) -> TestClient:
    """Answers a crash with its 500 instead of raising it into the test."""
    return TestClient(w.api.app, raise_server_exceptions=False, headers=dict(w.api.headers))


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/orgs/org1/operations/{2**63}/retry",
        f"/api/v1/orgs/org1/operations/{-(2**63) - 1}/retry",
        f"/api/v1/orgs/org1/operations/{2**31}/retry",  # PostgreSQL's INTEGER is 32-bit
        "/api/v1/orgs/org1/operations/0/retry",
        f"/api/v1/orgs/org1/operations?before_id={2**63}",
        f"/api/v1/orgs/org1/operations?before_id={2**31}",
        "/api/v1/orgs/org1/operations?before_id=0",
    ],
)
def test_operation_ids_no_row_can_have_are_422_not_500(team: World, url: str) -> None:
    """Fixed (route validation): an unbounded int reached the SQLite driver and overflowed;
    beyond 32 bits, PostgreSQL's INTEGER overflowed too."""
    method = "POST" if url.endswith("/retry") else "GET"
    before = snapshot(team)
    r = _anyone(team).request(method, url)
    assert r.status_code == 422, r.text
    assert snapshot(team) == before


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/orgs", {"id": "o" * 65, "name": "Long id"}),
        ("/api/v1/orgs/org1/users", {"id": "u" * 65, "email": "long@acme.test"}),
        ("/api/v1/orgs/org1/users", {"email": "long@acme.test", "name": "n" * 201}),
        ("/api/v1/people/p9", {"first_name": "f" * 201}),
        ("/api/v1/people/p9", {"city": "c" * 201}),
    ],
)
def test_values_longer_than_their_columns_are_422_not_500(
    team: World, url: str, body: dict[str, str]
) -> None:
    """Fixed (schema limits): the API allowed 128-character org and user ids and 300-character
    names, but the columns hold 64 and 200, so PostgreSQL failed the insert with a 500."""
    before = snapshot(team)
    method = "PUT" if url.startswith("/api/v1/people/") else "POST"
    r = _anyone(team).request(method, url, json=body)
    assert r.status_code == 422, r.text
    assert snapshot(team) == before


@pytest.mark.parametrize(
    ("method", "url", "raw", "field"),
    [
        ("PUT", "/api/v1/people/p9", '{"first_name": "\\ud800"}', "first_name"),
        ("PUT", "/api/v1/people", '[{"person_id": "p9", "city": "\\ud800"}]', "city"),
        ("POST", "/api/v1/orgs", '{"name": "\\udfff"}', "name"),
        ("POST", "/api/v1/orgs/org1/users", '{"email": "a\\ud800@acme.test"}', "email"),
        ("PATCH", "/api/v1/orgs/org1/connection", '{"settings": {"k": "\\ud800"}}', "settings"),
        ("PATCH", "/api/v1/orgs/org1/connection", '{"settings": {"\\udfff": 1}}', "settings"),
        ("POST", "/api/v1/orgs/org1/unlocks", '[{"person_id": "\\ud800"}]', "person_id"),
        ("POST", "/api/v1/orgs/org1/conversations", '[{"body": "\\ud800"}]', "body"),
    ],
)
def test_a_lone_surrogate_in_json_is_422_not_500(
    team: World, method: str, url: str, raw: str, field: str
) -> None:
    """Fixed (API edge): FastAPI's default 422 handler echoed the invalid input, and a lone
    UTF-16 surrogate (JSON '\\ud800') cannot be encoded as UTF-8, so the refusal itself was a
    500. The 422 now says where and why, never what; free-form JSON fields refuse it too."""
    before = snapshot(team)
    headers = {"Content-Type": "application/json"}
    r = _anyone(team).request(method, url, content=raw, headers=headers)
    assert r.status_code == 422, r.text
    issues = r.json()["detail"]
    assert any(field in issue["loc"] for issue in issues), issues
    assert all(set(issue) == {"loc", "msg", "type"} for issue in issues), issues
    assert snapshot(team) == before


def test_a_422_does_not_echo_the_rejected_input(team: World) -> None:
    """A refused secret (here a too-short API key) is not sent back in the answer."""
    secret = "s3cr\u00e9t"
    r = _anyone(team).post(
        "/api/v1/orgs/org1/connection/api-key", json={"provider": "close", "api_key": secret}
    )
    assert r.status_code == 422, r.text
    assert secret not in r.text
    assert [issue["loc"] for issue in r.json()["detail"]] == [["body", "api_key"]]


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("POST", "/api/v1/orgs", {"name": "a\x00b"}, "name"),
        ("POST", "/api/v1/orgs/org1/users", {"email": "a@acme.test", "name": "a\x00"}, "name"),
        ("PUT", "/api/v1/people/p9", {"first_name": "a\x00b"}, "first_name"),
        ("PUT", "/api/v1/people/p9", {"phones": ["555\x00"]}, "phones"),
        ("PUT", "/api/v1/people", [{"person_id": "p9", "title": "a\x00"}], "title"),
        ("PATCH", "/api/v1/orgs/org1/connection", {"settings": {"k": ["a\x00"]}}, "settings"),
        ("POST", "/api/v1/orgs/org1/connection", {"provider": "hub\x00spot"}, "provider"),
        (
            "POST",
            "/api/v1/orgs/org1/connection",
            {"provider": "hubspot", "options": {"a\x00": "b"}},
            "options",
        ),
        (
            "POST",
            "/api/v1/orgs/org1/connection/api-key",
            {"provider": "close", "api_key": "k" * 9 + "\x00"},
            "api_key",
        ),
        ("GET", "/api/v1/orgs/org%001/connection", None, "org_id"),
        ("DELETE", "/api/v1/orgs/org%001/connection", None, "org_id"),
        ("POST", "/api/v1/orgs/org%001/operations/retry-failed", None, "org_id"),
        ("GET", "/api/v1/orgs/org1/operations?status=a%00b", None, "status"),
        ("GET", "/api/v1/orgs/org1/operations?person_id=a%00b", None, "person_id"),
        ("GET", "/api/v1/orgs/org1/people/p%001/sync", None, "person_id"),
    ],
)
def test_a_nul_character_is_a_422_naming_the_field(
    team: World, method: str, url: str, body: Any, field: str
) -> None:
    """Fixed (API edge): a NUL character in a path, query or body string reached PostgreSQL,
    which refuses it (psycopg DataError) with a 500. It is refused before any query, with a
    422 naming the field, on every database (SQLite would have stored it)."""
    before = snapshot(team)
    r = _anyone(team).request(method, url, json=body)
    assert r.status_code == 422, r.text
    issues = r.json()["detail"]
    assert any(field in issue["loc"] for issue in issues), issues
    assert snapshot(team) == before


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state={state}%00&code=x", "state"),
        ("state={state}&code=x%00", "code"),
        ("state={state}&error=a%00b", "error"),
    ],
)
def test_a_nul_character_in_the_oauth_callback_is_a_422_page(
    team: World, query: str, field: str
) -> None:
    """The callback is a page in the consent popup: it says which parameter was refused,
    before looking the state up (PostgreSQL fails a NUL with a 500), so a real pending state
    is not spent on a request that could not have come from the CRM."""
    team.org("org3", {"u-three": "three@gamma.test"})
    r = team.api.post("/api/v1/orgs/org3/connection", json={"provider": "hubspot"})
    assert r.status_code == 201, r.text
    state = parse_qs(urlsplit(r.json()["authorize_url"]).query)["state"][0]
    before = snapshot(team)
    r = _anyone(team).get(f"/oauth/callback/hubspot?{query.format(state=state)}")
    assert r.status_code == 422, r.text
    assert "Could not connect" in r.text and f"{field} must not contain NUL" in r.text
    assert snapshot(team) == before
