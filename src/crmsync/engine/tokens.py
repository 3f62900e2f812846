"""Tokens encrypted at rest, and a single-flight refresh that saves before it uses."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select

from crmsync.connectors.oauth import OAuthFlow
from crmsync.db.session import Database
from crmsync.db.tables import Connection
from crmsync.domain.enums import ConnectionStatus
from crmsync.errors import ReconnectRequired, reconnect_required


class Vault:
    """Fernet encryption for secrets at rest; several comma-separated keys allow rotation."""

    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k])

    def seal(self, data: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(data).encode())

    def open(self, blob: bytes) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self._fernet.decrypt(blob))
        return result


class ConnectionTokens:
    """The access token of one connection, refreshed at most once at a time everywhere.

    A refresh locks the connection row (``FOR UPDATE`` on PostgreSQL; SQLite's writer lock),
    re-reads the tokens, and only calls the CRM if nobody refreshed meanwhile. The new tokens
    are committed before the new access token is used, so a rotating refresh token is never
    lost to a crash.
    """

    EARLY_SECONDS = 60

    def __init__(self, db: Database, vault: Vault, connection_id: str, flow: OAuthFlow) -> None:
        self.db = db
        self.vault = vault
        self.connection_id = connection_id
        self.flow = flow
        self.refreshes = 0
        self._loop_lock: asyncio.Lock | None = None
        with db.session() as session:
            conn = session.get_one(Connection, connection_id)
            self._token = self._open(conn)

    def _open(self, conn: Connection) -> dict[str, Any]:
        if conn.token_ciphertext is None:
            raise reconnect_required("the connection holds no tokens: reconnect it")
        return self.vault.open(conn.token_ciphertext)

    @property
    def token(self) -> dict[str, Any]:
        return self._token

    @property
    def access_token(self) -> str:
        return str(self._token["access_token"])

    def expiring(self) -> bool:
        expires_at = self._token.get("expires_at")
        return expires_at is not None and float(expires_at) - self.EARLY_SECONDS < time.time()

    async def refresh(self, stale_access_token: str) -> str:
        # Requests of one run share an event loop: the first to need a refresh does it, the
        # others wait here and reuse its token. Without this, a second one would block the
        # loop's thread on the row lock the first holds while awaiting the CRM on that loop.
        if self._loop_lock is None:
            self._loop_lock = asyncio.Lock()
        async with self._loop_lock:
            if self.access_token != stale_access_token:
                return self.access_token
            return await self._refresh_locked(stale_access_token)

    async def _refresh_locked(self, stale_access_token: str) -> str:
        try:
            with self.db.session() as session:
                conn = session.scalars(
                    select(Connection).where(Connection.id == self.connection_id).with_for_update()
                ).one()
                current = self._open(conn)
                if current["access_token"] != stale_access_token:
                    self._token = current  # someone else refreshed while we waited
                    return self.access_token
                fresh = await self.flow.refresh(str(current["refresh_token"]))
                merged = {**current, **fresh}
                conn.token_ciphertext = self.vault.seal(merged)
                conn.token_version += 1
                moved = {
                    key: fresh[key]
                    for key in self.flow.spec.oauth.refreshed_settings
                    if fresh.get(key) and fresh[key] != conn.settings.get(key)
                }
                if moved:  # the next run's connector uses them (this one finishes as it is)
                    conn.settings = {**conn.settings, **moved}
                self.refreshes += 1
            self._token = merged
            return self.access_token
        except ReconnectRequired as exc:
            mark_needs_reconnect(self.db, self.connection_id, str(exc))
            raise


def mark_needs_reconnect(db: Database, connection_id: str, reason: str) -> None:
    with db.session() as session:
        conn = session.get_one(Connection, connection_id)
        if conn.status != ConnectionStatus.DISCONNECTED:
            conn.status = ConnectionStatus.NEEDS_RECONNECT
            conn.status_reason = reason


class BearerAuth(httpx.Auth):
    """Bearer header from ConnectionTokens; on 401, refresh once and retry the request."""

    def __init__(self, tokens: ConnectionTokens) -> None:
        self.tokens = tokens

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.tokens.expiring():
            await self.tokens.refresh(self.tokens.access_token)
        sent_with = self.tokens.access_token
        request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            fresh = await self.tokens.refresh(sent_with)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request
