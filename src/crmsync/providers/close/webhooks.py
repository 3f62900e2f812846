"""Close's webhooks: crmsync's own subscription per connection, and its deliveries as hints.

Close signs each subscription's deliveries with that subscription's ``signature_key`` (hex,
given once, in the create answer): ``close-sig-hash`` = hex HMAC-SHA256(the hex-decoded key,
``close-sig-timestamp`` + body). So a delivery is checked against one connection's key: the
body names its ``subscription_id`` and the event's ``organization_id`` (the Close account),
which find the connection; the engine then hands its settings here. A timestamp more than five
minutes off is refused as a replay (Close gives no window; five minutes is what HubSpot and
Stripe use). Hints only: the engine reads the contact again, the event log stays the net.

On connect (``ensure_setup``) crmsync subscribes to contact events at its own webhook URL and
keeps the subscription's id and key with the connection; a subscription Close paused (three
days of failed deliveries, or a backlog of 100,000) is deleted and made again, and on
disconnect it is deleted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from crmsync import errors, jsoncodec
from crmsync.domain.records import ChangeHint, ChangeKind
from crmsync.providers.close.changes import Own, origin

SIGNATURE = "close-sig-hash"
TIMESTAMP = "close-sig-timestamp"
MAX_AGE_MS = 5 * 60 * 1000
EVENTS = [
    {"object_type": "contact", "action": action} for action in ("created", "updated", "deleted")
]
KEPT = "crm_setup"
"""Where the connection keeps what its setup made in Close (see ``SetupReport.kept``)."""


class SignatureError(errors.SignatureError):
    """Not Close's (forged, altered, stale, or for another subscription): refused, 401."""


def body_of(raw: bytes) -> dict[str, Any]:
    try:
        body = jsoncodec.loads(raw)
    except ValueError as exc:
        raise errors.InputError("a Close webhook body is a JSON object") from exc
    if not isinstance(body, dict) or not isinstance(body.get("event"), dict):
        raise errors.InputError("a Close webhook body has an event")
    return body


def account(raw: bytes, headers: Mapping[str, str]) -> str:
    """The Close organisation a delivery says it is about (before its signature is checked
    with that organisation's key; a call without Close's signature headers is refused first)."""
    if not headers.get(SIGNATURE) or not headers.get(TIMESTAMP):
        raise SignatureError("missing close-sig-hash or close-sig-timestamp")
    organization = body_of(raw)["event"].get("organization_id")
    if not isinstance(organization, str) or not organization:
        raise errors.InputError("a Close webhook event names its organization_id")
    return organization


def sign(signature_key: str, timestamp: str, body: bytes) -> str:
    key = bytes.fromhex(signature_key)
    return hmac.new(key, timestamp.encode() + body, hashlib.sha256).hexdigest()


def verify(
    settings: Mapping[str, Any], body: bytes, headers: Mapping[str, str], now_ms: int
) -> None:
    kept = settings.get(KEPT) or {}
    key, subscription = kept.get("webhook_signature_key"), kept.get("webhook_id")
    if not key or not subscription:
        raise SignatureError("this connection has no Close webhook subscription")
    signature, timestamp = headers.get(SIGNATURE), headers.get(TIMESTAMP)
    if not signature or not timestamp or not timestamp.isdigit():
        raise SignatureError("missing close-sig-hash or close-sig-timestamp")
    if abs(now_ms - int(timestamp) * 1000) > MAX_AGE_MS:
        raise SignatureError("close-sig-timestamp is more than 5 minutes off")
    try:
        expected = sign(str(key), timestamp, body)
    except ValueError as exc:
        raise SignatureError("the stored signature key is not hex") from exc
    if not hmac.compare_digest(expected, signature):
        raise SignatureError("close-sig-hash does not match")
    if body_of(body).get("subscription_id") != subscription:
        raise SignatureError("the delivery is for another subscription")


def hints(raw: bytes, own: Own) -> list[ChangeHint]:
    """A contact event as a hint; other objects (leads, activities) are left to the poll.
    The event id with its ``date_updated`` is the dedupe key: a consolidated event comes
    again under its id with a later date, and is news."""
    event = body_of(raw)["event"]
    if event.get("object_type") != "contact" or not event.get("object_id"):
        return []
    kind = ChangeKind.DELETED if event.get("action") == "deleted" else ChangeKind.UPSERTED
    return [
        ChangeHint(
            crm_id=str(event["object_id"]),
            kind=kind,
            event_id=f"{event.get('id')}@{event.get('date_updated')}",
            occurred_at=str(event.get("date_updated") or ""),
            origin=origin(event),
            echo=own.claims(event),
            account_id=str(event.get("organization_id") or "") or None,
        )
    ]
