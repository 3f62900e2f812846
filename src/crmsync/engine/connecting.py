"""Opens a connection's connector: its spec with the connection's options, its tokens, and
an HTTP client that refreshes them. The runner and the setup action share this."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from crmsync.connectors.base import SETUP_KEPT, Connector, SetupReport
from crmsync.db.session import Database
from crmsync.db.tables import Connection
from crmsync.domain.enums import ConnectionStatus
from crmsync.engine.runtime import Runtime
from crmsync.engine.tokens import BearerAuth, ConnectionTokens

SEALED_OPTIONS = "provider_options"
"""Key in ``Connection.settings`` of the connection's options, encrypted (may hold a secret)."""


def connector_settings(conn: Connection) -> dict[str, Any]:
    """What a connector may read of its connection's settings (never the sealed options)."""
    visible = {k: v for k, v in conn.settings.items() if k != SEALED_OPTIONS}
    return {**visible, "connection_id": conn.id}


def apply_setup(conn: Connection, report: SetupReport) -> None:
    """Record what the CRM's setup check found; only a ready CRM is synced."""
    conn.settings = {
        **conn.settings,
        "setup": {
            "missing": list(report.missing),
            "created": list(report.created),
            "message": report.message,
        },
    }
    if report.kept:
        kept = {**conn.settings.get(SETUP_KEPT, {}), **report.kept}
        conn.settings = {**conn.settings, SETUP_KEPT: kept}
    if report.ready:
        if conn.status == ConnectionStatus.SETUP_REQUIRED:
            conn.status = ConnectionStatus.CONNECTED
            conn.status_reason = None
    else:
        conn.status = ConnectionStatus.SETUP_REQUIRED
        conn.status_reason = report.message or "the CRM needs setting up before syncing"


def mark_setup_required(
    db: Database, connection_id: str, message: str, missing: Sequence[str]
) -> None:
    """The CRM refused a write for want of its setup (a custom field deleted after the
    check): the connection shows Setup required, and the next run checks again."""
    with db.session() as session:
        conn = session.get_one(Connection, connection_id)
        if conn.status != ConnectionStatus.DISCONNECTED:
            apply_setup(conn, SetupReport(ready=False, missing=tuple(missing), message=message))


@asynccontextmanager
async def open_connector(rt: Runtime, conn: Connection) -> AsyncIterator[Connector]:
    """Raises ``ReconnectRequired`` when the connection holds no usable tokens."""
    options = rt.open_options(conn.settings.get(SEALED_OPTIONS))
    spec = rt.spec(conn.provider, options)
    tokens = ConnectionTokens(rt.db, rt.vault, conn.id, rt.oauth_flow(conn.provider, options))
    connector_type = rt.provider(conn.provider).connector
    api_key = tokens.token.get("api_key")
    auth = connector_type.api_key_auth(str(api_key)) if api_key else BearerAuth(tokens)
    async with rt.http_client(spec, auth) as http:
        yield connector_type(
            rt.connector_context(spec, http, conn.account_id, connector_settings(conn))
        )
