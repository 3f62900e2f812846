"""``/metrics`` is not public: a bearer token when ``metrics_token`` is set, else loopback only.

The figures are about every organisation (queue depths, failures, connections per CRM), so
with no token configured (the default of ``crmsync serve``) only a client on the same host
(a local Prometheus or agent) reads them; anyone else gets a 404, as if there were none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crmsync.settings import Settings
from tests.support.world import World, world

TOKEN = "a-metrics-token"


@pytest.fixture
def open_w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        yield instance


@pytest.fixture
def token_w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot", metrics_token=TOKEN) as instance:
        yield instance


def scrape(w: World, address: str, authorization: str | bytes | None = None) -> int:
    client = TestClient(w.api.app, client=(address, 40000))
    headers = {"Authorization": authorization} if authorization is not None else {}
    r = client.get("/metrics", headers=headers)
    if r.status_code == 200:
        assert "crmsync_queue_depth" in r.text
    else:
        assert r.json()["detail"], r.text
    return r.status_code


def test_no_token_is_configured_by_default() -> None:
    assert Settings().metrics_token == ""


def test_without_a_token_only_loopback_clients_read_metrics(open_w: World) -> None:
    for address in ("127.0.0.1", "127.8.9.10", "::1"):
        assert scrape(open_w, address) == 200, address
    for address in ("203.0.113.5", "10.0.0.2", "::ffff:203.0.113.5", "testclient", ""):
        assert scrape(open_w, address) == 404, address
    assert scrape(open_w, "203.0.113.5", f"Bearer {TOKEN}") == 404  # no token to match


def test_with_a_token_every_client_needs_it(token_w: World) -> None:
    for address in ("203.0.113.5", "127.0.0.1"):
        assert scrape(token_w, address, f"Bearer {TOKEN}") == 200, address
        assert scrape(token_w, address) == 401, address
        assert scrape(token_w, address, "Bearer wrong") == 401, address
        assert scrape(token_w, address, f"Basic {TOKEN}") == 401, address
        assert scrape(token_w, address, "Bearer café".encode()) == 401, address
