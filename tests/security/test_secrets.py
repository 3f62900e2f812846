"""CRM tokens never rest in plaintext, never leave through the API or logs; keys rotate."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import MetaData, select

from crmsync.db.tables import Connection
from crmsync.engine.tokens import ConnectionTokens, Vault
from crmsync.settings import Settings
from tests.support.world import World


def _issued_tokens(w: World) -> set[str]:
    """Every access and refresh token the HubSpot emulator handed out (none revoked here)."""
    tables = w.harness.emulator.oauth._tables
    return set(tables.access) | set(tables.refresh)


def _database_text(w: World) -> str:
    """Every column of every row of every table (reflected, so nothing is missed), as text."""
    metadata = MetaData()
    metadata.reflect(bind=w.rt.db.engine)
    assert "connections" in metadata.tables
    parts: list[str] = []
    with w.rt.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(json.dumps(value, default=str))
    return "\n".join(parts)


def _sqlite_file_bytes(w: World) -> bytes:
    if not w.rt.db.url.startswith("sqlite"):
        return b""
    path = Path(w.rt.db.url.split("///", 1)[1])
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


@pytest.fixture
def synced(w: World, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    """Connect, sync three people, refresh the access token once; keep every API answer."""
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.text)

    w.api.event_hooks["response"].append(keep)
    w.org("org1", {"u-admin": "admin@acme.test"})
    w.connect("org1")
    for pid in ("p1", "p2", "p3"):
        w.person(pid)
        w.unlock("org1", pid, "u-admin")
    w.drain()
    w.harness.expire_access_tokens()  # the next write refreshes: a second access token
    w.person("p1", title="Refreshed")
    w.drain()
    w.status()
    operations = w.operations()
    for pid in ("p1", "p2", "p3"):
        assert w.api.get(f"/api/v1/orgs/org1/people/{pid}/sync").status_code == 200
    w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    w.api.post("/api/v1/orgs/org1/operations/retry-failed")
    assert len(w.harness.emulator.oauth._tables.access) >= 2, "no refresh happened"
    assert len(operations) == 4
    assert len(bodies) >= 15
    tokens = _issued_tokens(w)
    assert tokens
    assert all(len(token) >= 16 for token in tokens)
    return {"tokens": tokens, "bodies": bodies, "operations": operations}


def test_crm_tokens_never_rest_in_plaintext_or_leave_through_the_api(
    w: World, synced: dict[str, Any]
) -> None:
    ops = synced["operations"]
    summaries = json.dumps([(op["request_summary"], op["response_summary"]) for op in ops])
    database = _database_text(w)
    raw = _sqlite_file_bytes(w)
    assert bool(raw) == w.rt.db.url.startswith("sqlite")
    for token in synced["tokens"]:
        assert token not in database, "token stored in plaintext"
        assert token.encode() not in raw, "token in the SQLite file"
        assert token not in summaries, "token in an operation summary"
        assert not [b for b in synced["bodies"] if token in b], "token in an API response"


def test_crm_tokens_never_appear_in_log_output(
    synced: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert len(records) > 50, "the scenario's logs were not captured"
    text = "\n".join(logging.Formatter().format(record) for record in records)
    for token in synced["tokens"]:
        assert token not in text, "token in the logs"


def test_tokens_at_rest_are_sealed_with_the_vault_key(team: World) -> None:
    conn = team.connection()
    assert conn.token_ciphertext is not None
    opened = team.rt.vault.open(conn.token_ciphertext)
    assert opened["access_token"] in team.harness.emulator.oauth._tables.access
    with pytest.raises(InvalidToken):
        Vault(Fernet.generate_key().decode()).open(conn.token_ciphertext)


def test_disconnect_forgets_the_tokens(team: World) -> None:
    assert team.api.delete("/api/v1/orgs/org1/connection").status_code == 200
    with team.rt.db.session() as session:
        assert session.scalars(select(Connection.token_ciphertext)).all() == [None]


def test_embedded_key_file_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_key="")
    key = settings.resolved_encryption_key()
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(key.encode())  # a usable Fernet key
    assert settings.resolved_encryption_key() == key
    assert Settings(data_dir=tmp_path / "data", encryption_key="").resolved_encryption_key() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_configured_key_wins_over_the_key_file(tmp_path: Path) -> None:
    configured = Fernet.generate_key().decode()
    settings = Settings(data_dir=tmp_path, encryption_key=configured)
    assert settings.resolved_encryption_key() == configured
    assert not (tmp_path / "secret.key").exists()


def test_vault_with_rotated_keys_opens_what_the_old_key_sealed() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret: dict[str, Any] = {"access_token": "a-1", "refresh_token": "r-1"}
    sealed = Vault(old).seal(secret)
    rotated = Vault(f"{new},{old}")
    assert rotated.open(sealed) == secret
    resealed = rotated.seal(secret)
    assert Vault(new).open(resealed) == secret
    with pytest.raises(InvalidToken):
        Vault(old).open(resealed)


def test_a_connections_tokens_survive_key_rotation(team: World) -> None:
    old = team.settings.encryption_key
    new = Fernet.generate_key().decode()
    before = ConnectionTokens(
        team.rt.db, team.rt.vault, team.connection().id, team.rt.oauth_flow("hubspot")
    ).token
    team.rt.vault = Vault(f"{new},{old}")  # the operator rotates and restarts
    tokens = ConnectionTokens(
        team.rt.db, team.rt.vault, team.connection().id, team.rt.oauth_flow("hubspot")
    )
    assert tokens.token == before
    team.harness.expire_access_tokens()  # the refresh re-seals with the new key
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    assert [op["status"] for op in team.operations()] == ["inserted"]
    ciphertext = team.connection().token_ciphertext
    assert ciphertext is not None
    assert Vault(new).open(ciphertext)["refresh_token"] == before["refresh_token"]
    assert Vault(new).open(ciphertext)["access_token"] != before["access_token"]
