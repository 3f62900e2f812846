"""The Marketplace app's webhooks: contact events, signed as HighLevel signs them.

HighLevel POSTs one event per request to the app's webhook URL, for every location the app
is installed in. The body is the event's JSON (``type``, ``locationId``, the contact's fields,
as in HighLevel's ``ContactCreate``/``ContactUpdate``/``ContactDelete`` docs, copied under
tests/providers/highlevel/spec/docs/) with ``appId``, ``timestamp`` and ``webhookId`` (HighLevel's
Webhook Authentication guide). ``X-GHL-Signature`` is base64(Ed25519 signature of the raw
body); the deprecated ``X-WH-Signature`` is base64(RSA PKCS#1 v1.5 SHA-256 signature), sent
too when ``legacy_signature`` is on. The emulator signs with its own key pairs: their public
halves are what a receiver configures (``public_key_pem``) in place of HighLevel's.

Deliveries happen when a test asks (``deliver``), through the httpx client it passes, so what
arrives and when is the test's to choose: late, twice, out of order, or not at all. A delivery
answered 429 or 5xx (or not at all) stays queued for another attempt (HighLevel's retry
schedule is unconfirmed: at most ``MAX_ATTEMPTS`` here).
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from crmsync import jsoncodec
from crmsync.emulation.harness import WebhookFaults
from crmsync.providers.highlevel.emulator.records import StoredContact

MAX_ATTEMPTS = 6
CONTACT_CREATE = "ContactCreate"
CONTACT_UPDATE = "ContactUpdate"
CONTACT_DELETE = "ContactDelete"
CONTACT_DND_UPDATE = "ContactDndUpdate"
CONTACT_TAG_UPDATE = "ContactTagUpdate"
EVENT_TYPES = (
    CONTACT_CREATE,
    CONTACT_UPDATE,
    CONTACT_DELETE,
    CONTACT_DND_UPDATE,
    CONTACT_TAG_UPDATE,
)
PAYLOAD_ATTRIBUTES = (
    "address1",
    "city",
    "companyName",
    "country",
    "source",
    "dateOfBirth",
    "email",
    "firstName",
    "lastName",
    "phone",
    "postalCode",
    "state",
    "website",
)


def _pem(key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def payload(event_type: str, contact: StoredContact, app_id: str, at: float) -> dict[str, Any]:
    """An event as HighLevel's webhook docs show it (attributes unset are left out)."""
    body: dict[str, Any] = {"type": event_type, "locationId": contact.location_id}
    body["id"] = contact.id
    body.update({k: contact.attributes[k] for k in PAYLOAD_ATTRIBUTES if k in contact.attributes})
    if contact.name:
        body["name"] = contact.name
    if contact.assigned_to:
        body["assignedTo"] = contact.assigned_to
    body.update(
        {
            "dateAdded": contact.date_added,
            "dnd": contact.dnd,
            "tags": list(contact.tags),
            "attachments": [],
            "customFields": [{"id": k, "value": v} for k, v in sorted(contact.custom.items())],
            "appId": app_id,
            "timestamp": datetime.fromtimestamp(at, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "webhookId": str(uuid.uuid4()),
        }
    )
    return body


@dataclass
class Pending:
    body: bytes
    attempts: int = 0


@dataclass
class Signer:
    """The emulator's own key pairs (an RSA one only once the legacy signature is asked for:
    making one takes a while)."""

    ed25519_key: ed25519.Ed25519PrivateKey = field(
        default_factory=ed25519.Ed25519PrivateKey.generate
    )
    rsa_key: rsa.RSAPrivateKey | None = None

    def rsa(self) -> rsa.RSAPrivateKey:
        if self.rsa_key is None:
            self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self.rsa_key

    @property
    def public_key_pem(self) -> str:
        return _pem(self.ed25519_key.public_key())

    @property
    def rsa_public_key_pem(self) -> str:
        return _pem(self.rsa().public_key())

    def headers(self, body: bytes, legacy: bool) -> dict[str, str]:
        signed = {"X-GHL-Signature": base64.b64encode(self.ed25519_key.sign(body)).decode()}
        if legacy:
            signature = self.rsa().sign(body, padding.PKCS1v15(), hashes.SHA256())
            signed["X-WH-Signature"] = base64.b64encode(signature).decode()
        return signed


class WebhookOutbox:
    """Events waiting to be delivered to the app's webhook URL."""

    def __init__(self, app_id: str, clock: Callable[[], float]) -> None:
        self.app_id = app_id
        self.clock = clock
        self.signer = Signer()
        self.url: str | None = None
        self.events: frozenset[str] = frozenset(EVENT_TYPES)
        self.legacy_signature = False
        self.faults = WebhookFaults()
        self.pending: list[Pending] = []
        self.sent: list[dict[str, Any]] = []
        """Every event delivered (accepted or not), for tests to look at."""
        self._lock = threading.Lock()

    def configure(self, url: str | None, events: frozenset[str], legacy_signature: bool) -> None:
        with self._lock:
            self.url, self.events, self.legacy_signature = url, events, legacy_signature

    def reset(self) -> None:
        with self._lock:
            self.pending.clear()
            self.sent.clear()

    def record(self, event_type: str, contact: StoredContact) -> None:
        """Called by the store after a change; queued only while a URL is set."""
        with self._lock:
            if self.url is None or event_type not in self.events:
                return
            if self.faults.drop > 0:
                self.faults.drop -= 1
                return
            body = payload(event_type, contact, self.app_id, self.clock())
            self.pending.append(Pending(jsoncodec.dumps_bytes(body)))

    def deliver(self, http: httpx.Client) -> int:
        """Send every queued event; returns how many the receiver accepted (2xx)."""
        due, url, legacy = self._due()
        accepted = 0
        for item in due:
            status = None
            for _ in range(2 if self.faults.duplicate else 1):
                status = self._post(http, url, item.body, legacy)
            accepted += self._settle(item, status)
        return accepted

    async def deliver_async(self, http: httpx.AsyncClient) -> int:
        """:meth:`deliver` through an async client (a receiving app served in process)."""
        due, url, legacy = self._due()
        accepted = 0
        for item in due:
            status = None
            for _ in range(2 if self.faults.duplicate else 1):
                status = await self._post_async(http, url, item.body, legacy)
            accepted += self._settle(item, status)
        return accepted

    def _due(self) -> tuple[list[Pending], str | None, bool]:
        with self._lock:
            due, self.pending = self.pending, []
            url, legacy = self.url, self.legacy_signature
        if self.faults.reverse:
            due.reverse()
        return due, url, legacy

    def _settle(self, item: Pending, status: int | None) -> int:
        """1 if accepted; queued again (up to ``MAX_ATTEMPTS``) if HighLevel would retry."""
        if status is not None and 200 <= status < 300:
            return 1
        if status is None or status >= 500 or status == 429:
            item.attempts += 1
            if item.attempts < MAX_ATTEMPTS:
                with self._lock:
                    self.pending.append(item)
        return 0

    def _request(self, url: str | None, body: bytes, legacy: bool) -> tuple[bytes, dict[str, str]]:
        """The body as sent (altered after signing when ``faults.tamper``) and its headers."""
        headers = {"Content-Type": "application/json", **self.signer.headers(body, legacy)}
        with self._lock:
            self.sent.append(jsoncodec.loads(body))
        if self.faults.tamper:
            body = body.replace(b"{", b"{ ", 1)
        return body, headers

    async def _post_async(
        self, http: httpx.AsyncClient, url: str | None, body: bytes, legacy: bool
    ) -> int | None:
        if url is None:
            return None
        sent, headers = self._request(url, body, legacy)
        try:
            return (await http.post(url, content=sent, headers=headers)).status_code
        except httpx.TransportError:
            return None

    def _post(self, http: httpx.Client, url: str | None, body: bytes, legacy: bool) -> int | None:
        if url is None:
            return None
        sent, headers = self._request(url, body, legacy)
        try:
            return http.post(url, content=sent, headers=headers).status_code
        except httpx.TransportError:
            return None
