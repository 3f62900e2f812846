"""/metrics tells an operator what waits, what happened, how the CRM answers, and how fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        instance.org("org1", {"u1": "owner@acme.test"})
        yield instance


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.rsplit(" ", 1)[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} missing from:\n{text}")


def test_metrics_show_queue_operations_crm_responses_and_latency(w: World) -> None:
    scraper = TestClient(w.api.app, client=("127.0.0.1", 40000))  # no token: loopback only
    w.connect("org1")
    for pid in ("p1", "p2", "p3"):
        w.person(pid)
        w.unlock("org1", pid, "u1")
    before = scraper.get("/metrics").text
    assert _metric(before, 'crmsync_queue_depth{lane="live",status="pending"}') == 3
    w.drain()
    after = scraper.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert _metric(text, 'crmsync_operations{status="inserted"}') == 3
    assert _metric(text, 'crmsync_connections{provider="hubspot",status="connected"}') == 1
    assert _metric(text, 'crmsync_crm_responses_total{provider="hubspot",status="200"}') >= 1
    assert _metric(text, "crmsync_sync_latency_seconds_count") >= 3
    assert "crmsync_queue_depth{" not in text  # nothing waits any more
