"""The webhooks against HighLevel's own docs (copied in ``spec/docs/``): the emulator sends
only fields the event schemas name (plus the authentication guide's ``timestamp`` and
``webhookId``, and ``appId``), the connector reads each documented example, and the RSA key it
checks ``X-WH-Signature`` with is the one the guide publishes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from crmsync import jsoncodec
from crmsync.domain.records import ChangeKind
from crmsync.emulation import ManualClock
from crmsync.providers.highlevel import webhooks
from crmsync.providers.highlevel.emulator import HighLevelEmulatorConfig
from tests.providers.highlevel.test_highlevel_emulator import Agency

DOCS = Path(__file__).parent / "spec" / "docs"
AUTHENTICATION = {"timestamp", "webhookId"}
"""What the Webhook Authentication guide adds to every payload."""
EVENTS = {
    "ContactCreate": ChangeKind.UPSERTED,
    "ContactUpdate": ChangeKind.UPSERTED,
    "ContactDelete": ChangeKind.DELETED,
}


def _blocks(event: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The doc's schema and example."""
    text = (DOCS / f"webhook-{event}.md").read_text()
    schema = re.search(r"```json json_schema\n(.*?)```", text, re.S)
    example = re.search(r"#### Example\s+```json\n(.*?)```", text, re.S)
    assert schema and example, f"webhook-{event}.md changed shape"
    return jsoncodec.loads(schema.group(1)), jsoncodec.loads(example.group(1))


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_the_documented_example_is_read_as_a_hint(event: str) -> None:
    _, example = _blocks(event)
    at = "2026-12-03T10:00:00.000Z"
    body = jsoncodec.dumps_bytes({**example, "timestamp": at, "webhookId": "wh-1"})
    [hint] = webhooks.parse(body, now_ms=1_796_292_000_000)
    assert (hint.crm_id, hint.kind, hint.account_id, hint.event_id, hint.occurred_at) == (
        example["id"],
        EVENTS[event],
        example["locationId"],
        "wh-1",
        at,
    )


def test_the_emulator_sends_only_what_the_event_schemas_name() -> None:
    clock = ManualClock(start=1_780_000_000.0)
    agency = Agency(HighLevelEmulatorConfig(rate_limit_enabled=False, clock=clock))
    agency.connect()
    agency.emulator.webhooks.configure("https://app.test/hooks", frozenset(EVENTS), False)
    field = agency.field("Acme Person ID")
    owner = agency.emulator.store.add_user("olive@acme.test", "Olive", "Owner").id
    contact = agency.create(
        firstName="Ada",
        lastName="Lovelace",
        email="ada@example.com",
        phone="+15551234567",
        companyName="Engines",
        city="London",
        state="LND",
        country="GB",
        assignedTo=owner,
        tags=["vip"],
        customFields=[{"id": field, "field_value": "p1"}],
    ).json()["contact"]
    agency.http.put(f"/contacts/{contact['id']}", json={"city": "Paris"})
    agency.http.delete(f"/contacts/{contact['id']}")
    sent: list[dict[str, Any]] = []

    def receive(request: httpx.Request) -> httpx.Response:
        sent.append(jsoncodec.loads(request.content))
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(receive)) as http:
        assert agency.emulator.webhooks.deliver(http) == 3
    assert [e["type"] for e in sent] == ["ContactCreate", "ContactUpdate", "ContactDelete"]
    for event in sent:
        schema, example = _blocks(str(event["type"]))
        named = set(schema["properties"]) | AUTHENTICATION | {"appId"}
        assert set(event) <= named, f"{event['type']}: {sorted(set(event) - named)}"
        assert set(example) - {"dateOfBirth", "website", "source", "address1", "postalCode"} <= (
            set(event)
        ), "the fields the example shows, where the contact has them"
        assert event["customFields"] == [{"id": field, "value": "p1"}]
        assert event["assignedTo"] == owner


def test_the_rsa_key_is_the_one_highlevels_guide_publishes() -> None:
    text = (DOCS / "oauth-WebhookAuthentication.md").read_text()
    published = re.search(r"-----BEGIN PUBLIC KEY-----.*?-----END PUBLIC KEY-----", text, re.S)
    assert published is not None
    assert webhooks.HIGHLEVEL_RSA_KEY.strip() == published.group(0).strip()
    assert {"timestamp", "webhookId"} <= set(re.findall(r'"(\w+)":', text))
