"""HighLevel webhooks: the emulator's deliveries, signed as HighLevel signs them (checked with
the official SDK's own verifier), read by the connector as hints, and refused when forged,
altered, unsigned or stale; end to end, a delivery to crmsync's route brings the change in."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from highlevel import HighLevel
from sqlalchemy import func, select

from crmsync import jsoncodec
from crmsync.db.tables import Change, InboundEvent, OrgRecord
from crmsync.domain.records import ChangeKind, WebhookRequest
from crmsync.emulation import ManualClock
from crmsync.providers.highlevel.connector import HighLevelConnector
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.harness import HighLevelHarness
from crmsync.providers.highlevel.webhooks import SignatureError
from tests.providers.highlevel.test_highlevel_emulator import Agency
from tests.support.world import World, world

TARGET = "https://app.crmsync.test/webhooks/highlevel"


class Captured:
    """The receiving end: every request the emulator sent, answered 200."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self.answer))

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200)

    def events(self) -> list[dict[str, Any]]:
        return [jsoncodec.loads(r.content) for r in self.requests]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=1_780_000_000.0)


@pytest.fixture
def agency(clock: ManualClock) -> Agency:
    found = Agency(HighLevelEmulatorConfig(rate_limit_enabled=False, clock=clock))
    found.connect()
    r = found.http.put("/_emulator/webhooks", json={"url": TARGET, "legacySignature": True})
    assert r.status_code == 200, r.text
    return found


@pytest.fixture
def captured(agency: Agency) -> Captured:
    contact = agency.create(firstName="Ada", email="ada@example.com").json()["contact"]
    agency.http.put(f"/contacts/{contact['id']}", json={"lastName": "Lovelace", "dnd": True})
    agency.http.delete(f"/contacts/{contact['id']}")
    receiver = Captured()
    assert agency.emulator.webhooks.deliver(receiver.client) == 4
    return receiver


def settings(agency: Agency) -> dict[str, str]:
    signer = agency.emulator.webhooks.signer
    return {
        "webhook_public_key": signer.public_key_pem,
        "webhook_rsa_public_key": signer.rsa_public_key_pem,
    }


def hints_of(agency: Agency, request: httpx.Request, clock: ManualClock, **headers: str) -> Any:
    sent = {k.lower(): v for k, v in request.headers.items()}
    sent.update({k.lower(): v for k, v in headers.items()})
    call = WebhookRequest("POST", TARGET, request.content, sent, int(clock() * 1000))
    return HighLevelConnector.webhook_hints(call, settings(agency))


def test_each_event_is_one_post_shaped_as_highlevels_docs(
    agency: Agency, captured: Captured
) -> None:
    events = captured.events()
    assert [e["type"] for e in events] == [
        "ContactCreate",
        "ContactUpdate",
        "ContactDndUpdate",
        "ContactDelete",
    ]
    [contact_id] = {e["id"] for e in events}
    created = events[0]
    assert created["locationId"] == agency.locations[0]
    assert (created["firstName"], created["email"], created["name"]) == (
        "Ada",
        "ada@example.com",
        "Ada",
    )
    assert events[1]["lastName"] == "Lovelace" and events[2]["dnd"] is True
    assert {"timestamp", "webhookId", "appId", "customFields", "tags"} <= set(created)
    assert len({e["webhookId"] for e in events}) == 4
    assert agency.emulator.store.snapshot(agency.locations[0]) == []
    assert contact_id in agency.emulator.store.deleted


def test_deliveries_are_signed_as_the_official_sdk_checks_them(
    agency: Agency, captured: Captured
) -> None:
    sdk = HighLevel(client_id="crmsync-demo.highlevel", client_secret="s", log_level="error")
    keys = settings(agency)
    for request in captured.requests:
        payload = request.content.decode()
        assert sdk.webhooks.verify_ed25519_signature(
            payload, request.headers["X-GHL-Signature"], keys["webhook_public_key"]
        )
        assert sdk.webhooks.verify_signature(
            payload, request.headers["X-WH-Signature"], keys["webhook_rsa_public_key"]
        )
    published = HighLevelConnector.webhook_hints  # HighLevel's own keys: not the emulator's
    with pytest.raises(SignatureError, match="X-GHL-Signature does not match"):
        request = captured.requests[0]
        published(WebhookRequest("POST", TARGET, request.content, dict(request.headers), 0), {})


def test_a_delivery_is_read_as_a_hint_for_its_location(
    agency: Agency, captured: Captured, clock: ManualClock
) -> None:
    hints = [h for r in captured.requests for h in hints_of(agency, r, clock)]
    events = captured.events()
    assert [(h.kind, h.event_id, h.account_id) for h in hints] == [
        (ChangeKind.UPSERTED, events[0]["webhookId"], agency.locations[0]),
        (ChangeKind.UPSERTED, events[1]["webhookId"], agency.locations[0]),
        (ChangeKind.UPSERTED, events[2]["webhookId"], agency.locations[0]),
        (ChangeKind.DELETED, events[3]["webhookId"], agency.locations[0]),
    ]
    assert {h.crm_id for h in hints} == {events[0]["id"]}
    assert hints[0].occurred_at == events[0]["timestamp"]


def test_the_older_rsa_signature_alone_is_accepted(
    agency: Agency, captured: Captured, clock: ManualClock
) -> None:
    request = captured.requests[0]
    headers = {"X-WH-Signature": request.headers["X-WH-Signature"]}
    call = WebhookRequest("POST", TARGET, request.content, headers, int(clock() * 1000))
    [hint] = HighLevelConnector.webhook_hints(call, settings(agency))
    assert hint.crm_id == captured.events()[0]["id"]


def _other_key_signature(body: bytes) -> str:
    return base64.b64encode(ed25519.Ed25519PrivateKey.generate().sign(body)).decode()


@pytest.mark.parametrize(
    "forgery", ["altered body", "another key", "no signature", "stale", "not base64"]
)
def test_forged_altered_unsigned_or_stale_deliveries_are_refused(
    agency: Agency, captured: Captured, clock: ManualClock, forgery: str
) -> None:
    request = captured.requests[1]
    body = request.content
    headers = {"X-GHL-Signature": request.headers["X-GHL-Signature"]}
    if forgery == "altered body":
        body = body.replace(b"Lovelace", b"Lovelaced")
    elif forgery == "another key":
        headers = {"X-GHL-Signature": _other_key_signature(body)}
    elif forgery == "no signature":
        headers = {}
    elif forgery == "stale":
        clock.advance(5 * 60 + 1)
    else:
        headers = {"X-GHL-Signature": "%%%"}
    call = WebhookRequest("POST", TARGET, body, headers, int(clock() * 1000))
    with pytest.raises(SignatureError):
        HighLevelConnector.webhook_hints(call, settings(agency))


def test_a_configured_key_that_is_not_ed25519_is_refused(
    agency: Agency, captured: Captured
) -> None:
    request = captured.requests[0]
    wrong = {"webhook_public_key": agency.emulator.webhooks.signer.rsa_public_key_pem}
    call = WebhookRequest("POST", TARGET, request.content, dict(request.headers), 0)
    with pytest.raises(SignatureError, match="not an Ed25519 key"):
        HighLevelConnector.webhook_hints(call, wrong)
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(SignatureError, match="does not match"):
        HighLevelConnector.webhook_hints(call, {"webhook_public_key": pem.decode()})


# -- end to end: the emulator delivers to crmsync's own route -----------------------------

CRMSYNC_TARGET = "http://crmsync.test/webhooks/highlevel"


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "highlevel") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test"})
        instance.connect("org1")
        instance.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
        instance.person("p1", title="Admiral")
        instance.unlock("org1", "p1", "u-admin")
        instance.drain()
        harness = instance.harness
        assert isinstance(harness, HighLevelHarness)
        harness.emulator.webhooks.configure(CRMSYNC_TARGET, frozenset(_ALL), False)
        # crmsync checks the emulator's signatures with its key (a provider setting)
        overrides = instance.rt.settings.provider_overrides["highlevel"]
        overrides["webhook_public_key"] = harness.emulator.webhooks.signer.public_key_pem
        yield instance


_ALL = ("ContactCreate", "ContactUpdate", "ContactDelete", "ContactDndUpdate")


def deliver(w: World) -> int:
    harness = w.harness
    assert isinstance(harness, HighLevelHarness)
    return harness.emulator.webhooks.deliver(w.api)


def feed(w: World) -> list[tuple[str, dict[str, Any]]]:
    with w.rt.db.session() as session:
        return [(c.kind, c.fields) for c in session.scalars(select(Change).order_by(Change.seq))]


def test_a_webhook_brings_a_crm_edit_and_a_delete_in_without_the_schedule(w: World) -> None:
    deliver(w)  # crmsync's own create: read again, equal to the shadow, nothing to tell
    w.drain()
    assert feed(w) == []
    (record,) = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "title", "Commodore")
    w.kicks.clear()
    assert deliver(w) == 1
    assert w.kicks == [w.connection().id], "the call wakes the connection"
    w.drain()  # no "sync now", no schedule due: the hint alone makes the read due
    assert feed(w) == [("updated", {"title": "Commodore"})]
    harness = w.harness
    assert isinstance(harness, HighLevelHarness)
    harness.delete_by_hand(record.crm_id)
    assert deliver(w) == 1
    w.drain()
    assert [kind for kind, _ in feed(w)] == ["updated", "deactivated"]
    with w.rt.db.session() as session:
        assert session.get_one(OrgRecord, ("org1", "contact", "p1")).active is False
        pending = session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.processed_at.is_(None))
        )
    assert pending == 0


def test_a_delivery_sent_twice_is_kept_once_and_a_forged_one_is_refused(w: World) -> None:
    (record,) = w.records_by_person()["p1"]
    deliver(w)
    w.harness.manual_edit(record.crm_id, "title", "Captain")
    harness = w.harness
    assert isinstance(harness, HighLevelHarness)
    harness.emulator.webhooks.faults.duplicate = True
    deliver(w)
    with w.rt.db.session() as session:
        events = session.scalars(select(InboundEvent.event_id)).all()
    assert len(events) == len(set(events))
    w.drain()
    assert feed(w) == [("updated", {"title": "Captain"})]
    forged = harness.emulator.webhooks.sent[-1]
    forged["id"] = "someone-else"
    r = w.api.post(
        "/webhooks/highlevel",
        content=jsoncodec.dumps_bytes(forged),
        headers={"X-GHL-Signature": _other_key_signature(b"x")},
    )
    assert r.status_code == 401
    with w.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(InboundEvent)) == len(events)
