"""A CRM's webhook calls: verified by the provider's connector, kept as hints for the
connection they concern (deduplicated by event id), so the next run reads those records again.

Hints, never truth: the run reads what the CRM holds now, and the scheduled read stays the
safety net for a call that never came. crmsync's own writes (the CRM's echo mark) and merges
(which the scheduled read follows, with both ids) are not kept.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.setwrites import dialect_insert, table_of
from crmsync.db.tables import Connection, InboundEvent, utcnow
from crmsync.domain.enums import ConnectionStatus
from crmsync.domain.records import Capability, ChangeHint, ChangeKind, WebhookRequest
from crmsync.engine.connecting import connector_settings
from crmsync.engine.runtime import Runtime
from crmsync.errors import NotFound, SignatureError


def take(rt: Runtime, provider: str, request: WebhookRequest) -> list[str]:
    """Keep the call's hints; returns the connections that have new ones (to wake)."""
    if provider not in rt.providers:
        raise NotFound(f"no provider named {provider!r}")
    connector = rt.provider(provider).connector
    if Capability.WEBHOOKS not in connector.capabilities:
        raise NotFound(f"{connector.spec.display_name} sends crmsync no webhooks")
    spec = rt.spec(provider)
    settings = {
        "client_id": spec.client_id,
        "client_secret": spec.client_secret,
        **rt.settings.provider(provider),
    }
    account = connector.webhook_account(request)
    if account is not None:
        return _per_connection(rt, provider, request, settings, account)
    hints = _news(connector.webhook_hints(request, settings))
    if not hints:
        return []
    with rt.db.session() as session:
        return _keep(session, hints, _connections(session, provider, {h.account_id for h in hints}))


def _news(hints: list[ChangeHint]) -> list[ChangeHint]:
    return [h for h in hints if not h.echo and h.kind is not ChangeKind.MERGED and h.account_id]


def _per_connection(
    rt: Runtime, provider: str, request: WebhookRequest, settings: dict[str, object], account: str
) -> list[str]:
    """A call signed with one connection's own key: checked against each connection to the
    account it names, kept for the one whose key it verifies with; none verifies: refused."""
    connector = rt.provider(provider).connector
    with rt.db.session() as session:
        rows = session.scalars(
            select(Connection).where(
                Connection.provider == provider,
                Connection.account_id == account,
                Connection.status == ConnectionStatus.CONNECTED,
            )
        ).all()
        candidates = [(c.id, connector_settings(c)) for c in rows]
    for connection_id, own in candidates:
        try:
            hints = connector.webhook_hints(request, {**settings, **own})
        except SignatureError:
            continue
        news = _news(hints)
        if not news:
            return []
        with rt.db.session() as session:
            return _keep(session, news, {account: [connection_id]})
    raise SignatureError(f"no {connector.spec.display_name} connection signed this call")


def _connections(
    session: Session, provider: str, accounts: set[str | None]
) -> dict[str, list[str]]:
    connections = session.execute(
        select(Connection.id, Connection.account_id).where(
            Connection.provider == provider,
            Connection.account_id.in_(accounts),
            Connection.status == ConnectionStatus.CONNECTED,
        )
    ).all()
    by_account: dict[str, list[str]] = {}
    for connection_id, account_id in connections:
        by_account.setdefault(str(account_id), []).append(connection_id)
    return by_account


def _keep(session: Session, hints: list[ChangeHint], by_account: dict[str, list[str]]) -> list[str]:
    now = utcnow()
    rows: list[dict[str, object]] = [
        {
            "connection_id": connection_id,
            "event_id": h.event_id,
            "crm_id": h.crm_id,
            "kind": str(h.kind),
            "received_at": now,
            "processed_at": None,
        }
        for h in hints
        for connection_id in by_account.get(str(h.account_id), [])
    ]
    if not rows:
        return []
    table = table_of(InboundEvent)
    insert = dialect_insert(session.get_bind().dialect.name, table)
    session.execute(
        insert.on_conflict_do_nothing(index_elements=["connection_id", "event_id"]), rows
    )
    return sorted({str(row["connection_id"]) for row in rows})
