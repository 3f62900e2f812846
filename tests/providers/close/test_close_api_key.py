"""Self-hosters connect Close with an API key (HTTP Basic) instead of OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import Connection
from crmsync.providers.close.emulator import CloseEmulator
from crmsync.providers.close.emulator.harness import CloseHarness
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "close") as instance:
        instance.org("org1", {"u1": "admin@acme.test"})
        yield instance


def _close(w: World) -> CloseEmulator:
    assert isinstance(w.harness, CloseHarness)
    return w.harness.emulator


def _connect(w: World, key: str) -> tuple[int, dict[str, object]]:
    r = w.api.post(
        "/api/v1/orgs/org1/connection/api-key", json={"provider": "close", "api_key": key}
    )
    body: dict[str, object] = r.json()
    return r.status_code, body


def _connections(w: World) -> int:
    with w.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Connection)) or 0)


def test_an_api_key_connects_close_and_people_sync(w: World) -> None:
    w.person("p1")
    w.unlock("org1", "p1", "u1")
    status, body = _connect(w, _close(w).config.api_key)
    assert status == 201, body
    assert body["status"] == "connected"
    assert body["account_id"] == _close(w).organization_id
    w.drain()
    assert sorted(w.records_by_person()) == ["p1"]
    with w.rt.db.session() as session:
        conn = session.scalars(select(Connection)).one()
        assert conn.token_ciphertext is not None
        assert _close(w).config.api_key.encode() not in conn.token_ciphertext


def test_a_wrong_key_is_refused_clearly_and_writes_nothing(w: World) -> None:
    status, body = _connect(w, "api_not_a_real_key")
    assert status == 422
    assert body["detail"] == "Close refused the API key"
    assert _connections(w) == 0


def test_a_crm_without_api_keys_says_so(w: World) -> None:
    r = w.api.post(
        "/api/v1/orgs/org1/connection/api-key",
        json={"provider": "hubspot", "api_key": "pat-na1-1234567890"},
    )
    assert r.status_code == 422
    assert "connects through OAuth" in r.json()["detail"]
    assert _connections(w) == 0


def test_a_revoked_key_pauses_and_a_new_key_resumes_without_duplicates(w: World) -> None:
    close = _close(w)
    assert _connect(w, close.config.api_key)[0] == 201
    w.person("p1")
    w.unlock("org1", "p1", "u1")
    w.drain()
    close.config.api_key = "api_rotated_key_2"  # the old key no longer works
    w.person("p2")
    w.unlock("org1", "p2", "u1")
    w.drain()
    assert w.status()["status"] == "needs_reconnect"
    assert w.status()["counts"]["pending"] == 1
    status, body = _connect(w, "api_rotated_key_2")
    assert status == 201 and body["status"] == "connected", body
    w.drain()
    records = w.records_by_person()
    assert sorted(records) == ["p1", "p2"] and all(len(r) == 1 for r in records.values())
    assert _connections(w) == 1
