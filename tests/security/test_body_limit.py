"""Request bodies over ``max_body_bytes`` are refused with a 413 before they are parsed.

A declared ``Content-Length`` over the limit is refused before any route runs (even one that
would not read the body); a body sent without one (chunked) is counted as it arrives and
refused once over. The host API and the admin UI share the limit; nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crmsync.settings import Settings
from tests.security.test_api_fuzz import snapshot
from tests.support.world import World, world

LIMIT = 4000
PASSWORD = "a long passphrase"


@pytest.fixture
def small(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot", max_body_bytes=LIMIT) as w:
        w.org("org1")
        body = {"id": "u-admin", "email": "admin@acme.test", "role": "admin", "password": PASSWORD}
        assert w.api.post("/api/v1/orgs/org1/users", json=body).status_code == 201
        w.connect("org1")
        yield w


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    """Sent without a Content-Length (chunked), as a client streaming its body would."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_the_default_limit_is_a_few_megabytes() -> None:
    assert Settings().max_body_bytes == 5 * 1024 * 1024


def test_a_json_body_over_the_limit_is_413_and_writes_nothing(small: World) -> None:
    raw = json.dumps({"id": "big", "name": "x" * 20, "padding": "p" * LIMIT}).encode()
    headers = {"Content-Type": "application/json"}
    before = snapshot(small)
    r = small.api.post("/api/v1/orgs", content=raw, headers=headers)
    assert r.status_code == 413, r.text
    assert str(LIMIT) in r.json()["detail"]
    r = small.api.post("/api/v1/orgs", content=chunks(raw), headers=headers)
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, r.text
    assert snapshot(small) == before
    assert small.api.post("/api/v1/orgs", json={"id": "fits", "name": "Fits"}).status_code == 201


def test_a_declared_size_over_the_limit_is_refused_before_the_route_runs(small: World) -> None:
    """DELETE /connection reads no body: without the check up front it would disconnect,
    and only its answer would be replaced by the 413."""
    before = snapshot(small)
    r = small.api.request("DELETE", "/api/v1/orgs/org1/connection", content=b"x" * (LIMIT + 1))
    assert r.status_code == 413, r.text
    assert snapshot(small) == before
    assert small.status()["status"] == "connected"


def test_a_form_over_the_limit_is_413_in_the_admin_ui(small: World) -> None:
    client = TestClient(small.api.app, follow_redirects=False)
    page = client.get("/signin").text
    match = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert match
    form = f"csrf_token={match.group(1)}&email=admin%40acme.test&password=x&next={'n' * LIMIT}"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    before = snapshot(small)
    for content in (form.encode(), chunks(form.encode())):
        r = client.post("/signin", content=content, headers=headers)
        assert r.status_code == 413, r.text
    assert snapshot(small) == before
    good = f"csrf_token={match.group(1)}&email=admin%40acme.test&password={PASSWORD}"
    assert client.post("/signin", content=good.encode(), headers=headers).status_code == 303
