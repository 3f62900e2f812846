"""The Close emulator's event log, lead merge and webhook subscriptions, driven with Close's
official Python client (closeio) as a Close customer would, only its base URL pointed at the
served emulator. Expected values are written with Close's own names (``object_type``,
``cursor_next``, ``merge_source_lead_id``, ``signature_key``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from closeio_api import APIError, Client

from crmsync.cli.serving import ServerThread
from crmsync.emulation import ManualClock
from crmsync.providers.close.emulator import CloseEmulator, CloseEmulatorConfig, create_app


@dataclass
class Served:
    api: Client
    emulator: CloseEmulator
    clock: ManualClock

    def events(self, **params: Any) -> list[dict[str, Any]]:
        """Every page, following ``cursor_next`` as the closeio scripts do."""
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.api.get("event", params={**params, "_cursor": cursor} if cursor else params)
            found += page["data"]
            cursor = page["cursor_next"]
            if not cursor:
                return found

    def refused(self, **params: Any) -> dict[str, Any]:
        with pytest.raises(APIError) as caught:
            self.api.get("event", params=params)
        body: dict[str, Any] = caught.value.response.json()
        assert caught.value.response.status_code == 400
        return body


@pytest.fixture
def served() -> Iterator[Served]:
    clock = ManualClock()
    config = CloseEmulatorConfig(rate_limit_enabled=False, clock=clock)
    app = create_app(config, served=True)
    server = ServerThread(app).start()
    try:
        api = Client(config.api_key, max_retries=1)
        api.base_url = f"{server.url}/api/v1/"
        yield Served(api, app.state.emulator, clock)
    finally:
        server.stop()


def lead(api: Client, name: str) -> dict[str, Any]:
    created: dict[str, Any] = api.post("lead", data={"name": name, "contacts": [{"name": name}]})
    return created


def test_events_come_newest_first_in_pages_of_at_most_50(served: Served) -> None:
    for n in range(60):
        lead(served.api, f"Lead {n}")
        served.clock.advance(1)
    events = served.events(object_type="contact", _limit=50)
    assert len(events) == 60 and len({e["id"] for e in events}) == 60
    stamps = [e["date_updated"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    first = served.api.get("event", params={"object_type": "contact"})
    assert len(first["data"]) == 50 and first["cursor_next"]
    assert {e["action"] for e in events} == {"created"}
    assert all(e["api_key_id"] == served.emulator.config.api_key_id for e in events)
    assert all(e["user_id"] == served.emulator.store.admin.id for e in events)


def test_what_close_does_not_support_is_refused_in_its_shape(served: Served) -> None:
    assert "_limit" in served.refused(_limit=51)["field-errors"]
    assert served.refused(object_type="contact", user_id="user_x")["errors"]
    assert "_skip" in served.refused(_skip=10)["field-errors"]
    assert "_cursor" in served.refused(_cursor="not-a-cursor")["field-errors"]


def test_updates_in_a_short_window_are_consolidated_then_a_new_event(served: Served) -> None:
    contact = lead(served.api, "Grace")["contacts"][0]
    served.api.put(f"contact/{contact['id']}", data={"title": "Engineer"})
    served.clock.advance(5)
    served.api.put(f"contact/{contact['id']}", data={"title": "CTO", "name": "Grace H"})
    [update] = served.events(object_type="contact", action="updated")
    assert update["date_created"] < update["date_updated"]
    assert {"name", "title"} <= set(update["changed_fields"])
    assert update["previous_data"]["name"] == "Grace" and update["previous_data"]["title"] == ""
    assert update["data"]["title"] == "CTO"
    served.clock.advance(60)
    served.api.put(f"contact/{contact['id']}", data={"title": "CEO"})
    assert len(served.events(object_id=contact["id"], action="updated")) == 2


def test_events_are_kept_30_days(served: Served) -> None:
    lead(served.api, "Old")
    served.clock.advance(29 * 24 * 3600)
    lead(served.api, "Recent")
    served.clock.advance(2 * 24 * 3600)
    assert [e["data"]["name"] for e in served.events(object_type="lead")] == ["Recent"]


def test_a_lead_merge_moves_the_contacts_and_logs_lead_merged(served: Served) -> None:
    source, destination = lead(served.api, "Dup"), lead(served.api, "Keep")
    moved = source["contacts"][0]["id"]
    assert served.api.post(
        "lead/merge", data={"source": source["id"], "destination": destination["id"]}
    )
    kept = served.api.get(f"lead/{destination['id']}")
    assert moved in {c["id"] for c in kept["contacts"]}
    assert served.api.get(f"contact/{moved}")["lead_id"] == destination["id"]
    with pytest.raises(APIError):
        served.api.get(f"lead/{source['id']}")
    [merged] = served.events(object_type="lead", action="merged")
    assert merged["data"]["merge_source_lead_id"] == source["id"]
    assert merged["data"]["merge_destination_lead_id"] == destination["id"]
    assert [e["object_id"] for e in served.events(object_type="lead", action="deleted")] == [
        source["id"]
    ]
    assert served.events(object_type="contact", action="deleted") == [], "contacts kept"


def test_deleting_a_lead_logs_each_contacts_deletion(served: Served) -> None:
    created = served.api.post(
        "lead", data={"name": "Two", "contacts": [{"name": "A"}, {"name": "B"}]}
    )
    served.api.delete(f"lead/{created['id']}")
    deleted = served.events(object_type="contact", action="deleted")
    assert {e["object_id"] for e in deleted} == {c["id"] for c in created["contacts"]}


def test_webhook_subscriptions_and_their_signed_deliveries(served: Served) -> None:
    events = [{"object_type": "contact", "action": "updated"}]
    sub = served.api.post("webhook", data={"url": "https://example.test/hook", "events": events})
    key = sub["signature_key"]
    assert len(key) == 64 and bytes.fromhex(key) and sub["status"] == "active"
    assert [s["id"] for s in served.api.get("webhook")["data"]] == [sub["id"]]
    assert "signature_key" not in served.api.get(f"webhook/{sub['id']}")
    contact = lead(served.api, "Hooked")["contacts"][0]
    served.api.put(f"contact/{contact['id']}", data={"title": "Signed"})
    hooks = served.emulator.webhooks
    [delivery] = hooks.queue
    body, headers = hooks.signed(delivery, hooks.subscriptions[sub["id"]])
    expected = hmac.new(
        bytes.fromhex(key), headers["close-sig-timestamp"].encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers["close-sig-hash"] == expected
    assert delivery.event["object_id"] == contact["id"]
    paused = served.api.put(f"webhook/{sub['id']}", data={"status": "paused"})
    assert paused["status"] == "paused"
    hooks.queue.clear()
    served.api.put(f"contact/{contact['id']}", data={"title": "Unheard"})
    assert hooks.queue == [], "a paused subscription queues nothing"
    served.api.delete(f"webhook/{sub['id']}")
    assert served.api.get("webhook")["data"] == []


def test_a_failed_delivery_stays_queued_and_three_days_of_failures_pause(served: Served) -> None:
    import asyncio

    import httpx

    events = [{"object_type": "contact", "action": "created"}]
    sub = served.api.post("webhook", data={"url": "https://down.test/hook", "events": events})
    lead(served.api, "Queued")
    answers = [503]

    def receiver(request: httpx.Request) -> httpx.Response:
        assert request.headers["close-sig-hash"] and request.headers["close-sig-timestamp"]
        return httpx.Response(answers[0])

    async def deliver() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as http:
            return await served.emulator.webhooks.deliver(http)

    assert asyncio.run(deliver()) == 0 and len(served.emulator.webhooks.queue) == 1
    served.clock.advance(3 * 24 * 3600)
    assert asyncio.run(deliver()) == 0
    assert served.api.get(f"webhook/{sub['id']}")["status"] == "paused"
    served.api.put(f"webhook/{sub['id']}", data={"status": "active"})
    lead(served.api, "Again")
    answers[0] = 200
    assert asyncio.run(deliver()) == 1
