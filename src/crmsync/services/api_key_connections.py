"""Connecting with an API key instead of OAuth (e.g. Close for self-hosters).

The key is stored encrypted like OAuth tokens. A CRM that refuses it later pauses the
connection (``needs_reconnect``); connecting again with a new key for the same CRM account
resumes it with all its state.
"""

from __future__ import annotations

from crmsync.connectors.base import AccountInfo, ConnectorContext, SetupReport
from crmsync.db.tables import Connection
from crmsync.domain.enums import ConnectionStatus
from crmsync.engine.connecting import apply_setup
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError, InputError
from crmsync.services.connections import (
    active_connection,
    create_connection,
    resume_connection,
    second_crm,
)
from crmsync.services.orgs import get_org


async def connect_with_api_key(
    rt: Runtime, org_id: str, provider: str, api_key: str, skip_backfill: bool
) -> Connection:
    with rt.db.session() as session:
        get_org(session, org_id)
        existing = active_connection(session, org_id)
    if existing is not None and existing.provider != provider:
        raise second_crm(org_id, existing)
    account, report = await _inspect(rt, provider, api_key)
    with rt.db.session() as session:
        if existing is None:
            conn = create_connection(rt, session, org_id, provider, account, skip_backfill)
        else:
            conn = resume_connection(session, existing.id, account)
        conn.token_ciphertext = rt.vault.seal({"api_key": api_key})
        conn.token_version += 1
        conn.status = ConnectionStatus.CONNECTED
        conn.status_reason = None
        apply_setup(conn, report)
    rt.kick(conn.id)
    return conn


async def _inspect(rt: Runtime, provider: str, api_key: str) -> tuple[AccountInfo, SetupReport]:
    connector_type = rt.provider(provider).connector
    auth = connector_type.api_key_auth(api_key)  # a CRM without keys → InputError
    spec = rt.spec(provider)
    async with rt.http_client(spec, auth) as http:

        def connector(account: AccountInfo | None) -> ConnectorContext:
            if account is None:
                return rt.connector_context(spec, http)
            return rt.connector_context(spec, http, account.account_id, account.settings)

        try:
            account = await connector_type(connector(None)).describe_account({"api_key": api_key})
        except ConnectorError as exc:
            if exc.resolution.status_code in (401, 403):
                raise InputError(f"{spec.display_name} refused the API key") from exc
            raise
        report = await connector_type(connector(account)).ensure_setup()
    return account, report
