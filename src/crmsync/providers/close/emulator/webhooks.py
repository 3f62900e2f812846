"""Close's webhook subscriptions (``/api/v1/webhook/``) and their signed deliveries.

A subscription names a URL and ``events`` (``object_type``/``action`` pairs); the create
answer holds its ``signature_key`` (64 hex characters), which signs every delivery:
``close-sig-hash`` = hex HMAC-SHA256(bytes.fromhex(signature_key), ``close-sig-timestamp`` +
body), the timestamp in epoch seconds. The body is ``{"subscription_id", "event"}``, the event
as the event log shows it. Each event matching an active subscription is queued; deliveries
are sent when a test asks (``deliver`` with an httpx client), a failure (no answer, 5xx, 429)
stays queued for the next try, and a subscription whose deliveries have failed for three days
is paused, as Close pauses it (``status: paused``); a paused one queues nothing. 40
subscriptions per organisation.

Unconfirmed, chosen as the most plausible: the signature key is shown only in the create
answer; deliveries are retried in the order queued.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from crmsync import jsoncodec
from crmsync.emulation.harness import WebhookFaults
from crmsync.providers.close.emulator.errors import invalid, not_found
from crmsync.providers.close.emulator.eventlog import Event
from crmsync.providers.close.emulator.records import iso

MAX_SUBSCRIPTIONS = 40
PAUSE_AFTER_SECONDS = 3 * 24 * 3600
STATUSES = ("active", "paused")


@dataclass
class Subscription:
    id: str
    organization_id: str
    url: str
    events: list[dict[str, str]]
    signature_key: str
    created_by: str | None
    date_created: float
    status: str = "active"
    verify_ssl: bool = True
    failing_since: float | None = None

    def as_json(self, with_key: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "organization_id": self.organization_id,
            "url": self.url,
            "events": [dict(e) for e in self.events],
            "status": self.status,
            "verify_ssl": self.verify_ssl,
            "created_by": self.created_by,
            "date_created": iso(self.date_created),
            "date_updated": iso(self.date_created),
        }
        if with_key:
            body["signature_key"] = self.signature_key
        return body

    def wants(self, event: Event) -> bool:
        return self.status == "active" and any(
            e.get("object_type") == event.object_type and e.get("action") == event.action
            for e in self.events
        )


@dataclass
class Delivery:
    subscription_id: str
    event: dict[str, Any]
    attempts: int = 0


def sign(signature_key: str, timestamp: str, body: bytes) -> str:
    return hmac.new(
        bytes.fromhex(signature_key), timestamp.encode() + body, hashlib.sha256
    ).hexdigest()


def _events(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise invalid(field_errors={"events": "A non-empty list of {object_type, action}."})
    parsed = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) and item.get(k) for k in ("object_type", "action")
        ):
            raise invalid(field_errors={"events": {str(index): "object_type and action needed."}})
        parsed.append({"object_type": item["object_type"], "action": item["action"]})
    return parsed


def _url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise invalid(field_errors={"url": "Enter a valid URL."})
    return value


@dataclass
class Webhooks:
    clock: Any
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    queue: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    faults: WebhookFaults = field(default_factory=WebhookFaults)
    """What the next deliveries do wrong, on a test's request."""

    def reset(self) -> None:
        with self.lock:
            self.subscriptions.clear()
            self.queue.clear()

    def _own(self, org_id: str, subscription_id: str) -> Subscription:
        found = self.subscriptions.get(subscription_id)
        if found is None or found.organization_id != org_id:
            raise not_found("Webhook subscription")
        return found

    def create(
        self, org_id: str, payload: Mapping[str, Any], user_id: str | None
    ) -> dict[str, Any]:
        with self.lock:
            mine = [s for s in self.subscriptions.values() if s.organization_id == org_id]
            if len(mine) >= MAX_SUBSCRIPTIONS:
                raise invalid([f"An organization can have at most {MAX_SUBSCRIPTIONS} webhooks."])
            sub = Subscription(
                id="whsub_" + secrets.token_urlsafe(16),
                organization_id=org_id,
                url=_url(payload.get("url")),
                events=_events(payload.get("events")),
                signature_key=secrets.token_hex(32),
                created_by=user_id,
                date_created=self.clock(),
                verify_ssl=bool(payload.get("verify_ssl", True)),
            )
            self.subscriptions[sub.id] = sub
            return sub.as_json(with_key=True)

    def list(self, org_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s.as_json() for s in self.subscriptions.values() if s.organization_id == org_id]

    def get(self, org_id: str, subscription_id: str) -> dict[str, Any]:
        with self.lock:
            return self._own(org_id, subscription_id).as_json()

    def update(
        self, org_id: str, subscription_id: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        with self.lock:
            sub = self._own(org_id, subscription_id)
            status = payload.get("status", sub.status)
            if status not in STATUSES:
                raise invalid(field_errors={"status": "Must be active or paused."})
            url = _url(payload["url"]) if "url" in payload else sub.url
            events = _events(payload["events"]) if "events" in payload else sub.events
            sub.status, sub.url, sub.events = str(status), url, events
            if "verify_ssl" in payload:
                sub.verify_ssl = bool(payload["verify_ssl"])
            if sub.status == "active":
                sub.failing_since = None
            return sub.as_json()

    def delete(self, org_id: str, subscription_id: str) -> None:
        with self.lock:
            self._own(org_id, subscription_id)
            del self.subscriptions[subscription_id]
            self.queue = [d for d in self.queue if d.subscription_id != subscription_id]

    def pause(self, subscription_id: str) -> None:
        """As Close does after three days of failed deliveries (a test control)."""
        with self.lock:
            self.subscriptions[subscription_id].status = "paused"

    def on_event(self, event: Event) -> None:
        """The event log's listener: queue the event for every subscription that wants it."""
        with self.lock:
            for sub in self.subscriptions.values():
                if sub.organization_id == event.organization_id and sub.wants(event):
                    if self.faults.drop > 0:
                        self.faults.drop -= 1
                        continue
                    self.queue.append(Delivery(sub.id, event.as_json()))

    def signed(self, delivery: Delivery, sub: Subscription) -> tuple[bytes, dict[str, str]]:
        body = jsoncodec.dumps_bytes({"subscription_id": sub.id, "event": delivery.event})
        timestamp = str(int(self.clock()))
        headers = {
            "content-type": "application/json",
            "close-sig-timestamp": timestamp,
            "close-sig-hash": sign(sub.signature_key, timestamp, body),
        }
        return body, headers

    async def deliver(self, http: httpx.AsyncClient) -> int:
        """Send what is queued; returns how many were accepted (2xx)."""
        with self.lock:
            pending, self.queue = self.queue, []
        if self.faults.reverse:
            pending.reverse()
        accepted, kept = 0, []
        for delivery in pending:
            sub = self.subscriptions.get(delivery.subscription_id)
            if sub is None or sub.status != "active":
                continue
            body, headers = self.signed(delivery, sub)
            if self.faults.tamper:
                body = body.replace(b"{", b"{ ", 1)
            delivery.attempts += 1
            ok = False
            for _ in range(2 if self.faults.duplicate else 1):
                try:
                    response = await http.post(sub.url, content=body, headers=headers)
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
            if ok:
                accepted += 1
                sub.failing_since = None
                continue
            now = self.clock()
            sub.failing_since = sub.failing_since or now
            if now - sub.failing_since >= PAUSE_AFTER_SECONDS:
                sub.status = "paused"
            else:
                kept.append(delivery)
        with self.lock:
            self.queue = kept + self.queue
        return accepted
