"""The app's webhook subscriptions and their deliveries, signed as HubSpot signs them.

HubSpot POSTs events to the app's target URL in batches (a JSON array, up to 100 events),
with ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client secret, method + URI + body +
timestamp)) and ``X-HubSpot-Request-Timestamp`` (epoch ms). A failed delivery (5xx, 429, a
transport error) is sent again later with ``attemptNumber`` + 1, up to 10 times; any other 4xx
is not retried. Order is not guaranteed. Events from the app's own writes are sent too, with
``changeSource: INTEGRATION`` and the app's id as ``sourceId``.

Deliveries go through an httpx client given to :meth:`WebhookSender.deliver` (tests pass one
on an ``ASGITransport`` to the receiving app) and happen when a test asks (``deliver``), so
what arrives, and when, is the test's to choose: late, twice, out of order, or dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from crmsync import jsoncodec
from crmsync.emulation.harness import WebhookFaults
from crmsync.providers.hubspot.emulator.events import (
    EVENT_TYPES,
    MERGE,
    PROPERTY_CHANGE,
    ContactEvent,
)
from crmsync.providers.hubspot.emulator.store import CrmStore

MAX_EVENTS_PER_REQUEST = 100
MAX_ATTEMPTS = 10
FIRST_EVENT_ID = 1_000_001


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: str) -> str:
    message = method.encode() + uri.encode() + body + timestamp_ms.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Subscription:
    id: int
    event_type: str
    property_name: str | None = None

    def wants(self, event: ContactEvent) -> bool:
        if event.event_type != self.event_type:
            return False
        return self.event_type != PROPERTY_CHANGE or event.property_name == self.property_name

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "eventType": self.event_type, "propertyName": self.property_name}


@dataclass
class DeliveryFaults(WebhookFaults):
    """What the next deliveries do wrong, on request: the suite's faults, and lateness."""

    delay_seconds: float = 0.0
    """Hold each event this long after it occurred (deliveries before then leave it queued)."""


@dataclass
class Pending:
    payload: dict[str, Any]
    due: float
    attempts: int = 0


@dataclass
class WebhookSender:
    store: CrmStore
    client_secret: str
    portal_id: int
    app_id: int
    clock: Callable[[], float]
    target_url: str | None = None
    subscriptions: list[Subscription] = field(default_factory=list)
    faults: DeliveryFaults = field(default_factory=DeliveryFaults)
    pending: list[Pending] = field(default_factory=list)
    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    """Every batch POSTed, as sent (a test's record of what went out)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._event_ids = itertools.count(FIRST_EVENT_ID)
        self._subscription_ids = itertools.count(1)

    def configure(self, target_url: str, subscriptions: Sequence[tuple[str, str | None]]) -> None:
        """Set the app's target URL and subscriptions (``contact.propertyChange`` needs a
        property name); the store keeps changes for them from now on."""
        for event_type, property_name in subscriptions:
            if event_type not in EVENT_TYPES:
                raise ValueError(f"unknown subscription type {event_type!r}")
            if (event_type == PROPERTY_CHANGE) != bool(property_name):
                raise ValueError("a propertyChange subscription, and only it, names a property")
        with self._lock:
            self.target_url = target_url
            self.subscriptions = [
                Subscription(next(self._subscription_ids), t, p) for t, p in subscriptions
            ]
        self.store.capture_events(bool(subscriptions))

    def _collect(self) -> None:
        for event in self.store.take_events():
            for subscription in self.subscriptions:
                if subscription.wants(event):
                    self._queue(subscription, event)

    def _queue(self, subscription: Subscription, event: ContactEvent) -> None:
        if self.faults.drop > 0:
            self.faults.drop -= 1
            return
        payload: dict[str, Any] = {
            "eventId": next(self._event_ids),
            "subscriptionId": subscription.id,
            "portalId": self.portal_id,
            "appId": self.app_id,
            "occurredAt": int(event.occurred_at * 1000),
            "subscriptionType": event.event_type,
            "attemptNumber": 0,
            "objectId": int(event.object_id),
            "changeSource": event.source.source_type,
            "sourceId": event.source.source_id,
        }
        if event.property_name is not None:
            payload["propertyName"] = event.property_name
            payload["propertyValue"] = event.property_value or ""
        if event.event_type == MERGE:
            payload["mergedObjectIds"] = [int(i) for i in event.merged_ids]
            payload["primaryObjectId"] = int(event.object_id)
            payload["newObjectId"] = int(event.object_id)
        self.pending.append(Pending(payload, event.occurred_at + self.faults.delay_seconds))

    async def deliver(self, http: httpx.AsyncClient) -> int:
        """Send every due event in batches of up to 100; returns how many were accepted.
        A batch answered 5xx/429 (or not at all) stays queued for another attempt."""
        with self._lock:
            self._collect()
            now = self.clock()
            due = [p for p in self.pending if p.due <= now]
            self.pending = [p for p in self.pending if p.due > now]
        if self.faults.reverse:
            due.reverse()
        accepted = 0
        for start in range(0, len(due), MAX_EVENTS_PER_REQUEST):
            batch = due[start : start + MAX_EVENTS_PER_REQUEST]
            for _ in range(2 if self.faults.duplicate else 1):
                status = await self._post(http, batch)
            if status is not None and 200 <= status < 300:
                accepted += len(batch)
            if status is not None and status < 500 and status != 429:
                continue  # delivered, or refused with a 4xx HubSpot does not retry
            with self._lock:
                for item in batch:
                    item.attempts += 1
                    if item.attempts < MAX_ATTEMPTS:
                        self.pending.append(item)
        return accepted

    async def _post(self, http: httpx.AsyncClient, batch: list[Pending]) -> int | None:
        """The receiver's status; None when nothing answered."""
        if self.target_url is None:
            return None
        events = [{**p.payload, "attemptNumber": p.attempts} for p in batch]
        body = jsoncodec.dumps_bytes(events)
        timestamp = str(int(self.clock() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(
                self.client_secret, "POST", self.target_url, body, timestamp
            ),
            "X-HubSpot-Signature-Version": "v3",
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        self.sent.append(events)
        if self.faults.tamper:
            body = body.replace(b'"attemptNumber"', b'"attemptNumber" ', 1)
        try:
            response = await http.post(self.target_url, content=body, headers=headers)
        except httpx.TransportError:
            return None
        return response.status_code
