"""Salesforce's conversations: records of the package's ``Acme_Conversation__c`` object, keyed
by the host's id (its external ID), looking up the Lead, or the Contact once it is converted;
an org without the object fails the conversations and keeps syncing its leads."""

from __future__ import annotations

from typing import Any

from tests.providers.salesforce.conftest import org
from tests.support.world import World

OBJECT = "Acme_Conversation__c"


def talk(w: World, cid: str = "c1", **fields: Any) -> None:
    body = {
        "id": cid,
        "person_id": "p1",
        "channel": "sms",
        "direction": "inbound",
        "subject": "Hi",
        "body": "Are you open on Sunday?",
        "occurred_at": "2026-12-04T10:00:00Z",
        **fields,
    }
    r = w.api.post("/api/v1/orgs/org1/conversations", json=body)
    assert r.status_code == 202, r.text


def enable(w: World) -> None:
    w.connect("org1")
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"conversations_enabled": True})
    assert r.status_code == 200, r.text
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")


def test_a_conversation_is_a_record_keyed_by_the_hosts_id(w: World) -> None:
    enable(w)
    talk(w)
    w.drain()
    [row] = org(w).records(OBJECT)
    [lead] = org(w).records("Lead")
    assert row["Acme_Conversation_ID__c"] == "c1"
    assert (row["Lead__c"], row["Channel__c"], row["Direction__c"]) == (
        lead["Id"],
        "sms",
        "inbound",
    )
    assert row["Body__c"] == "Are you open on Sunday?"
    described = org(w).store.sobject(OBJECT).describe("v62.0")
    assert {"Lead__c", "Contact__c", "Occurred_At__c"} <= {f["name"] for f in described["fields"]}


def test_after_a_conversion_a_new_conversation_looks_up_the_contact(w: World) -> None:
    enable(w)
    w.drain()
    [lead] = org(w).records("Lead")
    converted = org(w).convert_lead(str(lead["Id"]))
    w.person("p1", title="CTO")  # the refresh moves the link to the Contact
    w.drain()
    talk(w, "c2")
    w.drain()
    [row] = org(w).records(OBJECT)
    assert row["Contact__c"] == converted["ConvertedContactId"]
    assert row.get("Lead__c") is None


def test_without_the_object_conversations_fail_and_leads_still_sync(w: World) -> None:
    org(w).store.objects.pop(OBJECT)
    enable(w)
    talk(w)
    w.drain()
    assert len(org(w).records("Lead")) == 1
    failed = [op for op in w.operations() if op["entity"] == "conversation"]
    assert failed and failed[0]["status"] == "failed", failed
