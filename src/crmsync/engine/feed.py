"""The change feed: what changed on the app side, appended in the transaction that made the
change, so that the host's feed and its webhook deliveries can never miss or invent one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Change, WebhookDelivery, WebhookEndpoint, utcnow
from crmsync.domain.enums import FeedKind


def append(
    session: Session,
    *,
    org_id: str,
    connection_id: str | None,
    entity: str,
    record_id: str,
    kind: FeedKind,
    fields: dict[str, Any],
    owner: dict[str, Any],
    at: datetime | None = None,
) -> int:
    """Add one change to the org's feed, and a pending delivery for each of its webhook
    endpoints; returns the change's ``seq``."""
    change = Change(
        org_id=org_id,
        connection_id=connection_id,
        entity=entity,
        record_id=record_id,
        kind=kind,
        fields=fields,
        owner=owner,
        at=at or utcnow(),
    )
    session.add(change)
    session.flush()
    endpoints = session.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.org_id == org_id))
    for endpoint_id in endpoints:
        session.add(WebhookDelivery(org_id=org_id, endpoint_id=endpoint_id, change_seq=change.seq))
    return change.seq
