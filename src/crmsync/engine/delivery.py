"""Webhook delivery: each change of an org POSTed, signed, to each of the host's endpoints.

At least once: a delivery is leased while it is sent and recorded after, so a worker that dies
mid-send leaves it to the next once the lease expires (receivers dedupe by ``Crmsync-Delivery``).
A failed attempt is retried with exponential backoff and jitter (1 min, 2 min, 4 min ... capped
at 1 h); an attempt that fails once ``GIVE_UP_AFTER`` (24 h) has passed since the change is
the last, and the delivery is marked ``failed`` (so the last attempt falls 24 to 25 h after).
A later change of a record is not sent to an endpoint while an earlier one of the same record
is still pending there; beyond that, no order is promised.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from crmsync.db.tables import Change, WebhookDelivery, WebhookEndpoint, naive_utc, utcnow
from crmsync.engine.runtime import Runtime

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
GIVE_UP_AFTER = timedelta(hours=24)
LEASE = timedelta(minutes=2)
"""Longer than one batch of sends can take (each send times out within 10 s)."""
BATCH = 100


def feed_item(change: Change) -> dict[str, Any]:
    """A change as the host sees it, in the feed and in a webhook's body."""
    return {
        "seq": change.seq,
        "entity": change.entity,
        "record_id": change.record_id,
        "person_id": change.record_id if change.entity == "contact" else None,
        "kind": change.kind,
        "fields": change.fields,
        "owner": {
            "user_id": change.owner.get("user_id"),
            "crm_user_email": change.owner.get("crm_user_email"),
        },
        "at": naive_utc(change.at).isoformat() + "Z",
    }


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def seal_secret(rt: Runtime, secret: str) -> bytes:
    return rt.vault.seal({"secret": secret})


def open_secret(rt: Runtime, sealed: bytes) -> str:
    return str(rt.vault.open(sealed)["secret"])


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Crmsync-Signature`` header: HMAC-SHA256 of ``"<t>.<body>"``, hex."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def retry_delay(failures: int, jitter: float) -> timedelta:
    """After the ``failures``-th failed attempt: 1 min doubled each time, capped at 1 h, times
    ``jitter`` (0.9 to 1.1) so that a receiver coming back is not hit by every retry at once."""
    base: timedelta = min(FIRST_RETRY * (2 ** min(failures - 1, 16)), MAX_RETRY)
    return base * jitter


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Report:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


_EARLIER = aliased(WebhookDelivery)
_EARLIER_CHANGE = aliased(Change)


def claim(session: Session, now: datetime, size: int = BATCH) -> list[int]:
    """Lease up to ``size`` due deliveries, oldest first, in one statement each way; on
    PostgreSQL concurrent claimers skip each other's rows (FOR UPDATE SKIP LOCKED)."""
    this_change = aliased(Change)
    earlier_pending = exists(
        select(_EARLIER.id)
        .join(_EARLIER_CHANGE, _EARLIER_CHANGE.seq == _EARLIER.change_seq)
        .where(
            _EARLIER.endpoint_id == WebhookDelivery.endpoint_id,
            _EARLIER.status == PENDING,
            _EARLIER.change_seq < WebhookDelivery.change_seq,
            _EARLIER_CHANGE.entity == this_change.entity,
            _EARLIER_CHANGE.record_id == this_change.record_id,
        )
    )
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .join(this_change, this_change.seq == WebhookDelivery.change_seq)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
                ~earlier_pending,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(size)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if ids:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(lease_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
    return ids


@dataclass(frozen=True)
class Send:
    delivery_id: int
    url: str
    secret: str
    kind: str
    body: bytes


def _sends(rt: Runtime, session: Session, ids: list[int]) -> list[Send]:
    rows = session.execute(
        select(WebhookDelivery.id, WebhookEndpoint.url, WebhookEndpoint.secret_ciphertext, Change)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Change, Change.seq == WebhookDelivery.change_seq)
        .where(WebhookDelivery.id.in_(ids))
    )
    secrets_by_cipher: dict[bytes, str] = {}
    sends = []
    for delivery_id, url, sealed, change in rows:
        if sealed not in secrets_by_cipher:
            secrets_by_cipher[sealed] = open_secret(rt, sealed)
        body = json.dumps(feed_item(change), separators=(",", ":"), sort_keys=True).encode()
        sends.append(Send(delivery_id, url, secrets_by_cipher[sealed], change.kind, body))
    return sends


async def _post_all(rt: Runtime, sends: list[Send], timestamp: int) -> list[Outcome]:
    async with rt.webhook_client() as http:

        async def post(send: Send) -> Outcome:
            headers = {
                "Content-Type": "application/json",
                "Crmsync-Signature": sign(send.secret, timestamp, send.body),
                "Crmsync-Delivery": str(send.delivery_id),
                "Crmsync-Event": send.kind,
            }
            try:
                response = await http.post(send.url, content=send.body, headers=headers)
            except httpx.HTTPError as exc:
                return Outcome(send.delivery_id, None, f"{type(exc).__name__}: {exc}"[:500])
            error = None if response.is_success else f"HTTP {response.status_code}"
            return Outcome(send.delivery_id, response.status_code, error)

        return list(await asyncio.gather(*(post(send) for send in sends)))


def record(
    session: Session,
    outcomes: list[Outcome],
    now: datetime,
    jitter: Callable[[], float],
) -> Report:
    """Mark each outcome: delivered, due again after the backoff, or failed past the limit.
    A delivery another worker finished meanwhile (this one's lease ran out) is left as it is."""
    report = Report(claimed=len(outcomes))
    by_id = {o.delivery_id: o for o in outcomes}
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempts, WebhookDelivery.created_at).where(
            WebhookDelivery.id.in_(list(by_id)), WebhookDelivery.status == PENDING
        )
    )
    changes: list[dict[str, Any]] = []
    for delivery_id, attempts, created_at in rows:
        outcome = by_id[delivery_id]
        values: dict[str, Any] = {
            "id": delivery_id,
            "attempts": attempts + 1,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "lease_until": None,
        }
        if outcome.ok:
            values.update(status=DELIVERED, delivered_at=now)
            report.delivered += 1
        else:
            due = now + retry_delay(attempts + 1, jitter())
            if naive_utc(now) - naive_utc(created_at) >= GIVE_UP_AFTER:
                values.update(status=FAILED)
                report.failed += 1
            else:
                values.update(next_attempt_at=due)
                report.retrying += 1
        changes.append(values)
    if changes:
        session.execute(update(WebhookDelivery), changes)
    return report


def _jitter() -> float:
    return random.uniform(0.9, 1.1)


def deliver_due(
    rt: Runtime,
    now: datetime | None = None,
    size: int = BATCH,
    jitter: Callable[[], float] = _jitter,
) -> Report:
    """Claim one batch of due deliveries, send them, record what happened."""
    now = now or utcnow()
    ids = rt.db.transaction(lambda session: claim(session, now, size))
    if not ids:
        return Report()
    with rt.db.session() as session:
        sends = _sends(rt, session, ids)
    if not sends:
        return Report()
    outcomes = asyncio.run(_post_all(rt, sends, int(now.timestamp())))
    return rt.db.transaction(lambda session: record(session, outcomes, now, jitter))


def deliver_all_due(rt: Runtime, now: datetime | None = None, max_batches: int = 50) -> Report:
    """Batches until nothing is due (or ``max_batches``, so one task never runs forever)."""
    total = Report()
    for _ in range(max_batches):
        report = deliver_due(rt, now)
        total.claimed += report.claimed
        total.delivered += report.delivered
        total.retrying += report.retrying
        total.failed += report.failed
        if report.claimed == 0:
            break
    return total


def any_due(session: Session, now: datetime | None = None) -> bool:
    """Is a delivery due (the sweep's question: cheap, on the partial index)?"""
    now = now or utcnow()
    due = session.scalar(
        select(func.count()).select_from(
            select(WebhookDelivery.id)
            .where(
                and_(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now),
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            )
            .limit(1)
            .subquery()
        )
    )
    return bool(due)
