"""HubSpot's webhook deliveries: the v3 signature checked, the batched events read as hints.

HubSpot signs each delivery with ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(the app's
client secret, method + full URI + body + ``X-HubSpot-Request-Timestamp``)) and says to refuse
a timestamp older than 5 minutes. A request that fails either check is refused whole. Events
are hints only: the engine dedupes them by ``event_id`` (HubSpot retries and may send one
twice, in any order) and refetches the record; the scheduled read stays the safety net.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from crmsync import errors, jsoncodec
from crmsync.domain.records import ChangeHint, ChangeKind

SIGNATURE = "x-hubspot-signature-v3"
TIMESTAMP = "x-hubspot-request-timestamp"
MAX_AGE_MS = 5 * 60 * 1000
KINDS = {
    "contact.creation": ChangeKind.UPSERTED,
    "contact.propertyChange": ChangeKind.UPSERTED,
    "contact.restore": ChangeKind.UPSERTED,
    "contact.deletion": ChangeKind.DELETED,
    "contact.privacyDeletion": ChangeKind.DELETED,
    "contact.merge": ChangeKind.MERGED,
}
"""Subscription types this connector reads; others (associations) are left out."""


class SignatureError(errors.SignatureError):
    """The delivery is not HubSpot's (forged, altered or stale): refuse it, 401."""


def verify(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
) -> None:
    """Raises :class:`SignatureError` unless the v3 signature matches and is fresh.
    ``uri`` is the full URL the request was sent to, as HubSpot signed it."""
    if not secret:
        raise SignatureError("no client secret to check HubSpot's signature with")
    lowered = {k.lower(): v for k, v in headers.items()}
    signature, timestamp = lowered.get(SIGNATURE), lowered.get(TIMESTAMP)
    if not signature or not timestamp or not timestamp.isdigit():
        raise SignatureError("missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp")
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        raise SignatureError("X-HubSpot-Request-Timestamp is more than 5 minutes off")
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    expected = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.encode()):
        raise SignatureError("X-HubSpot-Signature-v3 does not match")


def parse(body: bytes, *, app_id: str | None) -> list[ChangeHint]:
    """The batch's events as hints, in the order sent (an event of an unknown type is left
    out; a body that is not a list of events is a ``ValueError``)."""
    events = jsoncodec.loads(body)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise ValueError("a HubSpot webhook body is a JSON array of events")
    hints: list[ChangeHint] = []
    for event in events:
        hints += _hints(event, app_id)
    return hints


def _hints(event: dict[str, Any], app_id: str | None) -> list[ChangeHint]:
    kind = KINDS.get(str(event.get("subscriptionType")))
    if kind is None or event.get("objectId") is None:
        return []
    source_type = str(event.get("changeSource") or "UNKNOWN")
    source_id = event.get("sourceId")
    origin = f"{source_type}:{source_id}" if source_id else source_type
    echo = app_id is not None and source_type == "INTEGRATION" and str(source_id) == app_id
    common: dict[str, Any] = {
        "event_id": str(event["eventId"]),
        "occurred_at": _iso(event.get("occurredAt")),
        "origin": origin,
        "echo": echo,
        "account_id": str(event["portalId"]) if event.get("portalId") is not None else None,
    }
    if kind is ChangeKind.MERGED:
        survivor = str(event.get("newObjectId") or event.get("primaryObjectId") or "")
        merged = [str(i) for i in event.get("mergedObjectIds") or [] if str(i) != survivor]
        return [
            ChangeHint(old, ChangeKind.MERGED, merged_into=survivor, **common) for old in merged
        ] + [ChangeHint(survivor, ChangeKind.UPSERTED, **common)]
    name = event.get("propertyName")
    return [
        ChangeHint(
            str(event["objectId"]), kind, changed_field=str(name) if name else None, **common
        )
    ]


def _iso(millis: object) -> str:
    """HubSpot gives ``occurredAt`` in epoch ms; hints carry ISO-8601 like the read stamps."""
    if not isinstance(millis, int | float):
        return ""
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
