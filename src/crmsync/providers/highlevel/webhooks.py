"""HighLevel's webhook deliveries: the signature checked, the contact event read as a hint.

HighLevel signs the raw body of each delivery with its Ed25519 key: ``X-GHL-Signature`` =
base64(signature). Until it stops sending it, the older ``X-WH-Signature`` = base64(RSA
PKCS#1 v1.5 SHA-256 signature) with its RSA key is accepted too (when both are present the
Ed25519 one decides). The body carries ``timestamp`` and ``webhookId``: a delivery more than 5
minutes from now is refused as a replay; the engine dedupes by ``webhookId``. The public keys
are HighLevel's published ones unless the provider settings name others
(``webhook_public_key``, ``webhook_rsa_public_key``: PEM), e.g. the emulator's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from crmsync import errors, jsoncodec
from crmsync.domain.records import ChangeHint, ChangeKind
from crmsync.providers.highlevel.cursor import millis

SIGNATURE = "x-ghl-signature"
LEGACY_SIGNATURE = "x-wh-signature"
MAX_AGE_MS = 5 * 60 * 1000
HIGHLEVEL_ED25519_KEY = """-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
"""
"""HighLevel's published key for ``X-GHL-Signature`` (its Webhook Integration Guide)."""
HIGHLEVEL_RSA_KEY = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
"""
"""HighLevel's published key for the deprecated ``X-WH-Signature`` (Webhook Authentication)."""
KINDS = {
    "ContactCreate": ChangeKind.UPSERTED,
    "ContactUpdate": ChangeKind.UPSERTED,
    "ContactDndUpdate": ChangeKind.UPSERTED,
    "ContactTagUpdate": ChangeKind.UPSERTED,
    "ContactDelete": ChangeKind.DELETED,
}
"""Event types this connector reads; others (notes, tasks, opportunities) are left out."""


class SignatureError(errors.SignatureError):
    """The delivery is not HighLevel's (forged, altered or stale): refuse it, 401."""


def _signature(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the webhook signature is not base64") from exc


def _key(pem: str, name: str) -> Any:
    try:
        return serialization.load_pem_public_key(pem.encode())
    except ValueError as exc:
        raise SignatureError(f"{name} is not a PEM public key") from exc


def verify(body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any]) -> None:
    """Raises :class:`SignatureError` unless a signature HighLevel sends matches the body."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if lowered.get(SIGNATURE):
        key = _key(str(settings.get("webhook_public_key") or HIGHLEVEL_ED25519_KEY), "the key")
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise SignatureError("webhook_public_key is not an Ed25519 key")
        try:
            key.verify(_signature(lowered[SIGNATURE]), body)
        except InvalidSignature as exc:
            raise SignatureError("X-GHL-Signature does not match") from exc
        return
    if lowered.get(LEGACY_SIGNATURE):
        pem = str(settings.get("webhook_rsa_public_key") or HIGHLEVEL_RSA_KEY)
        rsa_key = _key(pem, "the RSA key")
        if not isinstance(rsa_key, rsa.RSAPublicKey):
            raise SignatureError("webhook_rsa_public_key is not an RSA key")
        try:
            signature = _signature(lowered[LEGACY_SIGNATURE])
            rsa_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise SignatureError("X-WH-Signature does not match") from exc
        return
    raise SignatureError("missing X-GHL-Signature (and X-WH-Signature)")


def parse(body: bytes, now_ms: int) -> list[ChangeHint]:
    """The delivery's contact event as a hint (none for an event type not read here). A
    body that is not an event is a ``ValueError``; a stale one a :class:`SignatureError`."""
    event = jsoncodec.loads(body)
    if not isinstance(event, dict):
        raise ValueError("a HighLevel webhook body is a JSON object")
    timestamp = event.get("timestamp")
    if not isinstance(timestamp, str):
        raise SignatureError("the webhook has no timestamp to check its age with")
    if abs(now_ms - millis(timestamp)) > MAX_AGE_MS:
        raise SignatureError("the webhook's timestamp is more than 5 minutes off")
    kind = KINDS.get(str(event.get("type")))
    if kind is None:
        return []
    contact_id, location_id = event.get("id"), event.get("locationId")
    webhook_id = event.get("webhookId")
    if not (isinstance(contact_id, str) and isinstance(location_id, str) and webhook_id):
        raise ValueError("a HighLevel contact event names its id, locationId and webhookId")
    return [
        ChangeHint(
            crm_id=contact_id,
            kind=kind,
            event_id=str(webhook_id),
            occurred_at=timestamp,
            account_id=location_id,
        )
    ]
