"""Links to a person's record in the CRM's own UI, built by the connection's connector."""

from __future__ import annotations

import httpx

from crmsync.connectors.base import ConnectorContext
from crmsync.db.tables import Connection
from crmsync.engine.connecting import SEALED_OPTIONS, connector_settings
from crmsync.engine.runtime import Runtime


def _no_calls(request: httpx.Request) -> httpx.Response:
    raise RuntimeError(f"building a record link calls no CRM ({request.url})")


def record_link(rt: Runtime, conn: Connection, crm_id: str | None) -> str | None:
    """``Connector.record_url`` for this connection (its options, account and settings)."""
    if not crm_id:
        return None
    options = rt.open_options(conn.settings.get(SEALED_OPTIONS))
    spec = rt.spec(conn.provider, options)
    http = httpx.AsyncClient(transport=httpx.MockTransport(_no_calls), trust_env=False)
    connector = rt.provider(conn.provider).connector(
        ConnectorContext(
            spec=spec,
            http=http,
            app=rt.app,
            account_id=conn.account_id,
            settings=connector_settings(conn),
        )
    )
    return connector.record_url(crm_id)
