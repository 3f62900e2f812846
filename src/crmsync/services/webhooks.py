"""The host's change feed and webhook endpoints: the queries behind their routes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from crmsync.db.tables import Change, WebhookDelivery, WebhookEndpoint
from crmsync.engine import delivery
from crmsync.engine.runtime import Runtime
from crmsync.errors import InputError, NotFound
from crmsync.services.orgs import get_org

MAX_URL_LENGTH = 2000
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


def changes_after(
    session: Session, org_id: str, after: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The org's changes with ``seq > after``, oldest first, and the cursor for next time
    (the last seq, or ``after`` itself when there is nothing new, so a host polls forever)."""
    get_org(session, org_id)
    rows = list(
        session.scalars(
            select(Change)
            .where(Change.org_id == org_id, Change.seq > after)
            .order_by(Change.seq)
            .limit(limit)
        )
    )
    return [delivery.feed_item(c) for c in rows], rows[-1].seq if rows else after


def check_url(url: str) -> str:
    """An https URL without credentials; http only to a loopback host (a receiver in dev)."""
    if len(url) > MAX_URL_LENGTH:
        raise InputError(f"the webhook URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _port = parts.port
    except ValueError as exc:
        raise InputError(f"the webhook URL is not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise InputError("the webhook URL must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InputError("the webhook URL must not contain credentials (user:password@)")
    if parts.fragment:
        raise InputError("the webhook URL must not have a #fragment")
    if parts.scheme == "http" and not _loopback(host):
        raise InputError("the webhook URL must use https (http only to localhost, for dev)")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise InputError("the webhook URL must not contain spaces or control characters")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    secret: str


def create_endpoint(rt: Runtime, session: Session, org_id: str, url: str) -> Endpoint:
    get_org(session, org_id)
    check_url(url)
    secret = delivery.new_secret()
    row = WebhookEndpoint(
        org_id=org_id, url=url, secret_ciphertext=delivery.seal_secret(rt, secret)
    )
    session.add(row)
    session.flush()
    return Endpoint(row.id, row.url, secret)


def list_endpoints(rt: Runtime, session: Session, org_id: str) -> list[Endpoint]:
    get_org(session, org_id)
    rows = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.org_id == org_id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    return [Endpoint(r.id, r.url, delivery.open_secret(rt, r.secret_ciphertext)) for r in rows]


def _endpoint(session: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    get_org(session, org_id)
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"organisation {org_id!r} has no webhook endpoint {endpoint_id!r}")
    return row


def delete_endpoint(session: Session, org_id: str, endpoint_id: str) -> int:
    """Delete the endpoint with its deliveries (pending ones are dropped, never sent);
    returns how many pending were dropped."""
    row = _endpoint(session, org_id, endpoint_id)
    dropped = session.scalar(
        select(func.count()).where(
            WebhookDelivery.endpoint_id == row.id, WebhookDelivery.status == delivery.PENDING
        )
    )
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id))
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == row.id))
    return int(dropped or 0)


def list_deliveries(
    session: Session, org_id: str, endpoint_id: str, limit: int
) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first."""
    row = _endpoint(session, org_id, endpoint_id)
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == row.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )
