"""HubSpot webhooks end to end in-process: the emulator POSTs its batched, v3-signed events to
a receiving app that checks them with the connector; late, twice, out of order, dropped, forged
or stale deliveries as HubSpot may make them (or as an attacker would)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crmsync.domain.records import ChangeHint, ChangeKind, WebhookRequest
from crmsync.emulation import ManualClock
from crmsync.providers.hubspot.connector import HubSpotConnector
from crmsync.providers.hubspot.emulator import HubSpotEmulator, HubSpotEmulatorConfig, create_app
from crmsync.providers.hubspot.webhooks import SignatureError
from tests.providers.hubspot.feed import connector_for
from tests.providers.hubspot.hubspot_portal import client_for, connect

pytestmark = pytest.mark.anyio
TARGET = "https://app.crmsync.test/webhooks/hubspot?portal=1"
SUBSCRIPTIONS = [
    ("contact.creation", None),
    ("contact.propertyChange", "jobtitle"),
    ("contact.deletion", None),
    ("contact.merge", None),
    ("contact.restore", None),
]


@dataclass
class Receiver:
    """crmsync's side: verify, parse, keep the hints; 401 for what is not HubSpot's."""

    connector: HubSpotConnector
    clock: ManualClock
    hints: list[ChangeHint] = field(default_factory=list)
    refused: int = 0

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        try:
            self.hints += HubSpotConnector.webhook_hints(
                WebhookRequest(
                    method=request.method,
                    uri=str(request.url),
                    body=body,
                    headers=dict(request.headers),
                    now_ms=int(self.clock() * 1000),
                ),
                self.connector.ctx.settings,
            )
        except SignatureError:
            self.refused += 1
            return Response(status_code=401)
        return Response(status_code=204)


@dataclass
class Hooks:
    emulator: HubSpotEmulator
    receiver: Receiver
    http: httpx.AsyncClient
    clock: ManualClock

    async def deliver(self) -> int:
        return await self.emulator.webhooks.deliver(self.http)


@pytest.fixture
async def hooks(anyio_backend: str, clock: ManualClock) -> AsyncIterator[Hooks]:
    app = create_app(HubSpotEmulatorConfig(clock=clock, rate_limit_enabled=False))
    emulator: HubSpotEmulator = app.state.emulator
    async with client_for(app) as client:
        tokens = await connect(client)
    receiver = Receiver(connector_for(app, emulator, tokens["access_token"]), clock)
    receiving = Starlette(routes=[Route("/webhooks/hubspot", receiver.receive, methods=["POST"])])
    emulator.webhooks.configure(TARGET, SUBSCRIPTIONS)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiving)) as http:
        yield Hooks(emulator, receiver, http, clock)
    await receiver.connector.ctx.http.aclose()


def signed(secret: str, body: bytes, timestamp: int, uri: str = TARGET) -> dict[str, str]:
    message = b"POST" + uri.encode() + body + str(timestamp).encode()
    digest = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return {
        "X-HubSpot-Signature-v3": digest.decode(),
        "X-HubSpot-Request-Timestamp": str(timestamp),
        "Content-Type": "application/json",
    }


async def test_signed_batches_become_hints_with_hubspots_origin(hooks: Hooks) -> None:
    store = hooks.emulator.store
    ours = store.create({"email": "ada@example.com"}).id  # the app's own write
    store.update(ours, {"jobtitle": "CTO"}, manual=True)  # a CRM user's
    store.update(ours, {"firstname": "Ada"}, manual=True)  # not subscribed
    assert await hooks.deliver() == 2
    created, edited = hooks.receiver.hints
    app_id = str(hooks.emulator.config.app_id)
    assert (created.kind, created.crm_id, created.echo) == (ChangeKind.UPSERTED, ours, True)
    assert created.origin == f"INTEGRATION:{app_id}"
    assert (edited.changed_field, edited.echo, edited.origin) == (
        "jobtitle",
        False,
        f"CRM_UI:userId:{store.admin_source.user_id}",
    )
    assert created.event_id != edited.event_id and edited.occurred_at.endswith("Z")
    [batch] = hooks.emulator.webhooks.sent
    assert {e["portalId"] for e in batch} == {hooks.emulator.config.portal_id}


async def test_archive_restore_and_merge_arrive_as_their_kinds(hooks: Hooks) -> None:
    store = hooks.emulator.store
    survivor, merged = store.create({"email": "a@example.com"}).id, store.create({}).id
    gone = store.create({"email": "g@example.com"}).id
    store.archive([gone], store.admin_source)
    store.restore(gone)
    store.merge(survivor, merged, store.admin_source)
    await hooks.deliver()
    kinds = [(h.kind, h.crm_id, h.merged_into) for h in hooks.receiver.hints[3:]]
    assert kinds == [
        (ChangeKind.DELETED, gone, None),
        (ChangeKind.UPSERTED, gone, None),
        (ChangeKind.MERGED, merged, survivor),
        (ChangeKind.UPSERTED, survivor, None),
    ]


async def test_a_duplicated_delivery_repeats_the_event_ids_for_the_engine_to_drop(
    hooks: Hooks,
) -> None:
    hooks.emulator.webhooks.faults.duplicate = True
    hooks.emulator.store.create({"email": "ada@example.com"})
    await hooks.deliver()
    first, again = hooks.receiver.hints
    assert first.event_id == again.event_id and hooks.receiver.refused == 0


async def test_late_reversed_and_dropped_deliveries_happen_on_request(hooks: Hooks) -> None:
    faults = hooks.emulator.webhooks.faults
    faults.delay_seconds, faults.reverse, faults.drop = 30.0, True, 1
    store = hooks.emulator.store
    lost, a, b = (store.create({"firstname": name}).id for name in ("lost", "a", "b"))
    assert await hooks.deliver() == 0, "not due yet"
    hooks.clock.advance(30)
    assert await hooks.deliver() == 2
    assert [h.crm_id for h in hooks.receiver.hints] == [b, a], "newest first; one lost"
    assert lost not in {h.crm_id for h in hooks.receiver.hints}


async def test_a_refused_batch_is_retried_with_the_next_attempt_number(hooks: Hooks) -> None:
    hooks.emulator.store.create({"email": "ada@example.com"})
    hooks.emulator.webhooks.target_url = "https://app.crmsync.test/down"  # 404: not retried
    assert await hooks.deliver() == 0 and hooks.emulator.webhooks.pending == []
    hooks.emulator.webhooks.target_url = TARGET
    hooks.emulator.store.create({"email": "grace@example.com"})
    real_post = hooks.http.post

    async def unavailable(url: str, **kwargs: object) -> httpx.Response:
        return httpx.Response(503)

    hooks.http.post = unavailable  # type: ignore[method-assign]
    assert await hooks.deliver() == 0
    hooks.http.post = real_post  # type: ignore[method-assign]
    assert await hooks.deliver() == 1
    assert hooks.emulator.webhooks.sent[-1][0]["attemptNumber"] == 1


async def test_forged_altered_and_stale_deliveries_are_refused(hooks: Hooks) -> None:
    secret = hooks.emulator.config.client_secret
    body = b'[{"eventId": 1, "subscriptionType": "contact.deletion", "objectId": 101}]'
    now = int(hooks.clock() * 1000)
    attempts = [
        (body, signed("not-the-secret", body, now)),
        (body.replace(b"101", b"102"), signed(secret, body, now)),
        (body, signed(secret, body, now - 5 * 60 * 1000 - 1)),
        (body, signed(secret, body, now, uri="https://elsewhere.test/webhooks/hubspot")),
        (body, {"Content-Type": "application/json"}),
    ]
    for content, headers in attempts:
        answer = await hooks.http.post(TARGET, content=content, headers=headers)
        assert answer.status_code == 401
    assert hooks.receiver.hints == []
    fresh = await hooks.http.post(TARGET, content=body, headers=signed(secret, body, now - 1000))
    assert fresh.status_code == 204
    [hint] = hooks.receiver.hints
    assert (hint.kind, hint.crm_id, hint.event_id) == (ChangeKind.DELETED, "101", "1")
