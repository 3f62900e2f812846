"""The webhook half of the inbound suite, run for every connector that declares webhooks: the
CRM's signed calls reach crmsync's receiving route and bring a change in without waiting for
the schedule; a call lost, sent twice, out of order or tampered with changes nothing it
should not, and the scheduled read makes good what never came.

Each test has the emulator POST its calls, signed as its CRM signs them, to crmsync's own app
in process; the faults are the harness's (``emulation.harness.WebhookFaults``).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from crmsync.db.tables import InboundEvent, OrgRecord
from crmsync.domain.records import Capability
from crmsync.emulation.harness import SendsWebhooks
from crmsync.service import create_product_app
from tests.conformance.views import changes, crm_record
from tests.support.world import World

BASE = "http://crmsync.test"


@pytest.fixture
def hooked(linked: World) -> World:
    """Webhooks on, the title CRM-owned (manual edits preserved) so an edit reaches the feed,
    and crmsync's own create already delivered (an echo: nothing to tell)."""
    if Capability.WEBHOOKS not in linked.rt.provider(linked.provider).connector.capabilities:
        pytest.skip(f"{linked.provider} does not declare webhooks")
    assert isinstance(linked.harness, SendsWebhooks), "a connector with webhooks needs them"
    r = linked.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    assert r.status_code == 200, r.text
    checks = linked.harness.subscribe_webhooks(f"{BASE}/webhooks/{linked.provider}")
    linked.rt.settings.provider_overrides.setdefault(linked.provider, {}).update(checks)
    deliver(linked)
    linked.drain()
    assert changes(linked) == []
    return linked


def hooks(w: World) -> SendsWebhooks:
    assert isinstance(w.harness, SendsWebhooks)
    return w.harness


def deliver(w: World) -> int:
    """The CRM sends what is due to crmsync's own app; returns the events it accepted."""
    app = create_product_app(w.rt)

    async def send() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            return await hooks(w).deliver_webhooks(http)

    return asyncio.run(send())


def kept(w: World) -> list[str]:
    with w.rt.db.session() as session:
        return list(session.scalars(select(InboundEvent.event_id)))


def org_title(w: World, person_id: str) -> object:
    with w.rt.db.session() as session:
        return session.get_one(OrgRecord, ("org1", "contact", person_id)).fields.get("title")


def test_a_webhook_brings_a_crm_edit_in_without_waiting_for_the_schedule(hooked: World) -> None:
    hooked.harness.manual_edit(crm_record(hooked, "p1").crm_id, "title", "Commodore")
    hooked.kicks.clear()
    assert deliver(hooked) >= 1
    assert hooked.kicks == [hooked.connection().id], "the call wakes the connection"
    hooked.drain()  # no "sync now", no schedule due: the hint alone makes the read due
    assert [c["fields"] for c in changes(hooked)] == [{"title": "Commodore"}]
    with hooked.rt.db.session() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.processed_at.is_(None))
        )
    assert pending == 0, "every hint taken is marked done"


def test_a_lost_webhook_is_made_good_by_the_scheduled_read(hooked: World) -> None:
    hooks(hooked).webhook_faults().drop = 1_000
    hooked.harness.manual_edit(crm_record(hooked, "p1").crm_id, "title", "Captain")
    deliver(hooked)
    hooked.drain()
    assert changes(hooked) == [], "nothing came, nothing due yet"
    hooked.sync_back()  # what the schedule does when the interval is up
    assert [c["fields"] for c in changes(hooked)] == [{"title": "Captain"}]


def test_a_webhook_sent_twice_is_taken_in_once(hooked: World) -> None:
    hooks(hooked).webhook_faults().duplicate = True
    hooked.harness.manual_edit(crm_record(hooked, "p1").crm_id, "title", "Captain")
    deliver(hooked)
    events = kept(hooked)
    assert len(events) == len(set(events)), "deduplicated by the CRM's event id"
    hooked.drain()
    assert [c["fields"] for c in changes(hooked)] == [{"title": "Captain"}]


def test_webhooks_out_of_order_end_at_what_the_crm_holds_last(hooked: World) -> None:
    hooked.person("p2", first_name="Ada", last_name="Byron", title="Countess")
    hooked.unlock("org1", "p2", "u-admin")
    hooked.drain()
    hooked.sync_back()
    deliver(hooked)
    hooked.drain()
    first, second = crm_record(hooked, "p1").crm_id, crm_record(hooked, "p2").crm_id
    hooks(hooked).webhook_faults().reverse = True
    hooked.harness.manual_edit(first, "title", "Captain")
    hooked.harness.manual_edit(second, "title", "Duchess")
    hooked.harness.manual_edit(first, "title", "Commodore")
    deliver(hooked)
    hooked.drain()
    assert (org_title(hooked, "p1"), org_title(hooked, "p2")) == ("Commodore", "Duchess")
    told = {(c["record_id"], c["fields"]["title"]) for c in changes(hooked)}
    assert ("p1", "Commodore") in told and ("p2", "Duchess") in told
    hooked.sync_back()
    assert (org_title(hooked, "p1"), org_title(hooked, "p2")) == ("Commodore", "Duchess")


def test_a_tampered_call_is_refused_and_keeps_nothing(hooked: World) -> None:
    before = kept(hooked)
    hooks(hooked).webhook_faults().tamper = True
    hooked.harness.manual_edit(crm_record(hooked, "p1").crm_id, "title", "Pirate King")
    assert deliver(hooked) == 0, "every call refused"
    assert kept(hooked) == before
    hooked.drain()
    assert changes(hooked) == []


def test_an_unsigned_call_is_refused_with_401(hooked: World) -> None:
    before = kept(hooked)
    r = hooked.api.post(f"/webhooks/{hooked.provider}", content=b"[]")
    assert r.status_code == 401, r.text
    assert kept(hooked) == before
