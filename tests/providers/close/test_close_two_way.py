"""Close read back end to end: what Close users do to leads and contacts comes back to the app
without a re-create, and Close's signed webhooks are hints only crmsync's own subscription can
give. Stored records are read with Close's own names (``lead_id``, ``contacts``)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import Change, InboundEvent, Link, OrgRecord
from crmsync.providers.close.emulator.harness import CloseHarness
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "close") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test"})
        instance.crm_admin_id = instance.harness.add_user("admin@acme.test", "Ann", "Admin")
        instance.connect("org1")
        for person_id, name in (("p1", "Grace"), ("p2", "Ada")):
            instance.person(person_id, first_name=name, last_name="X", title="Engineer")
            instance.unlock("org1", person_id, "u-admin")
        instance.drain()
        instance.sync_back()
        r = instance.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
        assert r.status_code == 200, r.text
        yield instance


def close(w: World) -> CloseHarness:
    assert isinstance(w.harness, CloseHarness)
    return w.harness


def contact_of(w: World, person_id: str) -> str:
    [record] = w.records_by_person()[person_id]
    return record.crm_id


def feed(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    with w.rt.db.session() as session:
        rows = session.scalars(select(Change).order_by(Change.seq))
        return [(c.kind, c.record_id, c.fields) for c in rows]


def links(w: World) -> dict[str, str | None]:
    with w.rt.db.session() as session:
        return dict(session.execute(select(Link.local_id, Link.crm_id)).tuples().all())


def leads(w: World) -> list[dict[str, Any]]:
    emulator = close(w).emulator
    found, _ = emulator.store.page(emulator.organization_id, "lead", 0, 1000)
    return found


def test_a_lead_merge_is_followed_without_a_re_create(w: World) -> None:
    before, writes = links(w), w.harness.write_calls()
    source, destination = (
        close(w).lead_of(contact_of(w, "p2")),
        close(w).lead_of(contact_of(w, "p1")),
    )
    close(w).merge_leads_by_hand(source, destination)
    close(w).manual_edit(contact_of(w, "p2"), "title", "Chief")
    w.sync_back()
    assert links(w) == before, "the contact kept its id: the same link"
    assert w.harness.write_calls() == writes, "nothing created again"
    [lead] = leads(w)
    assert {c["id"] for c in lead["contacts"]} == {before["p1"], before["p2"]}
    assert feed(w) == [("updated", "p2", {"title": "Chief"})]


def test_a_contact_moved_to_another_lead_stays_linked(w: World) -> None:
    before, writes = links(w), w.harness.write_calls()
    p1 = contact_of(w, "p1")
    close(w).move_by_hand(p1, close(w).lead_of(contact_of(w, "p2")))
    w.sync_back()
    assert links(w) == before and w.harness.write_calls() == writes
    assert feed(w) == []
    close(w).manual_edit(p1, "title", "Moved")
    w.sync_back()
    assert feed(w) == [("updated", "p1", {"title": "Moved"})]


def test_a_contact_or_its_lead_deleted_deactivates_the_record(w: World) -> None:
    close(w).delete_by_hand(contact_of(w, "p1"))
    close(w).delete_lead_by_hand(close(w).lead_of(contact_of(w, "p2")))
    writes = w.harness.write_calls()
    w.sync_back()
    assert sorted(feed(w)) == [("deactivated", "p1", {}), ("deactivated", "p2", {})]
    with w.rt.db.session() as session:
        active = session.scalars(select(OrgRecord.active)).all()
    assert active and not any(active)
    w.sync_back()
    assert w.harness.write_calls() == writes, "never re-created"
    assert len(feed(w)) == 2


def test_the_owner_field_edited_in_close_flows_back(w: World) -> None:
    member = w.harness.add_user("member@acme.test", "Max", "Member")
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": False})
    assert r.status_code == 200
    with w.rt.db.session() as session:
        w.connection_row(session).owners_fetched_at = None
    w.harness.manual_edit(contact_of(w, "p1"), "owner", member)
    w.sync_back()
    [(kind, person, _)] = feed(w)
    assert (kind, person) == ("owner_changed", "p1")


# webhooks -----------------------------------------------------------------------------------


def subscription(w: World) -> dict[str, Any]:
    emulator = close(w).emulator
    [sub] = emulator.webhooks.list(emulator.organization_id)
    return sub


def signature_key(w: World) -> str:
    return str(close(w).emulator.webhooks.subscriptions[subscription(w)["id"]].signature_key)


def post(w: World, body: bytes, headers: dict[str, str]) -> int:
    return w.api.post("/webhooks/close", content=body, headers=headers).status_code


def hints(w: World) -> list[str]:
    with w.rt.db.session() as session:
        return list(session.scalars(select(InboundEvent.crm_id)))


def test_connecting_subscribes_crmsync_to_contact_events_at_its_webhook_url(w: World) -> None:
    sub = subscription(w)
    assert sub["url"] == "http://crmsync.test/webhooks/close" and sub["status"] == "active"
    assert {(e["object_type"], e["action"]) for e in sub["events"]} == {
        ("contact", "created"),
        ("contact", "updated"),
        ("contact", "deleted"),
    }
    status = w.status()
    assert "crm_setup" not in json.dumps(status), "the signing key is never shown"


def test_a_signed_delivery_is_a_hint_and_the_edit_reaches_the_feed(w: World) -> None:
    close(w).webhook_calls()  # what crmsync's own writes queued
    close(w).manual_edit(contact_of(w, "p1"), "title", "Hinted")
    [(url, body, headers)] = close(w).webhook_calls()
    assert url.endswith("/webhooks/close")
    assert post(w, body, headers) == 204
    assert post(w, body, headers) == 204, "a duplicate is taken, and kept once"
    assert hints(w) == [contact_of(w, "p1")]
    w.drain()
    assert feed(w) == [("updated", "p1", {"title": "Hinted"})]


def test_a_forged_altered_or_stale_delivery_is_refused_and_nothing_kept(w: World) -> None:
    close(w).webhook_calls()
    close(w).manual_edit(contact_of(w, "p1"), "title", "Forged")
    [(_, body, headers)] = close(w).webhook_calls()
    forged = {**headers, "close-sig-hash": "0" * 64}
    assert post(w, body, forged) == 401
    assert post(w, body.replace(b"Forged", b"Altered"), headers) == 401
    stale_at = str(int(headers["close-sig-timestamp"]) - 3600)
    key = bytes.fromhex(signature_key(w))
    stale_hash = hmac.new(key, stale_at.encode() + body, hashlib.sha256).hexdigest()
    stale = {**headers, "close-sig-timestamp": stale_at, "close-sig-hash": stale_hash}
    assert post(w, body, stale) == 401
    other_key = hmac.new(
        b"\x01" * 32, headers["close-sig-timestamp"].encode() + body, hashlib.sha256
    )
    assert post(w, body, {**headers, "close-sig-hash": other_key.hexdigest()}) == 401
    assert hints(w) == []


def test_a_paused_subscription_is_made_again_and_disconnect_removes_it(w: World) -> None:
    first = subscription(w)
    close(w).emulator.webhooks.pause(first["id"])
    r = w.api.post("/api/v1/orgs/org1/connection/setup", json={"create_missing_fields": False})
    assert r.status_code == 200, r.text
    again = subscription(w)
    assert again["id"] != first["id"] and again["status"] == "active"
    close(w).webhook_calls()
    close(w).manual_edit(contact_of(w, "p1"), "title", "Again")
    [(_, body, headers)] = close(w).webhook_calls()
    assert post(w, body, headers) == 204, "the new key is the one kept"
    r = w.api.delete("/api/v1/orgs/org1/connection")
    assert r.status_code == 200, r.text
    emulator = close(w).emulator
    assert emulator.webhooks.list(emulator.organization_id) == []


def test_calls_of_a_quiet_read(w: World) -> None:
    counters = close(w).emulator.counters
    before = counters.get("GET", "/api/v1/event/")
    w.sync_back()
    assert counters.get("GET", "/api/v1/event/") - before == 2, "contact events and merges"
    with w.rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Change)) == 0


def test_a_reconnect_keeps_the_connections_subscription(w: World) -> None:
    first = subscription(w)
    w.harness.revoke_tokens()
    w.reconnect("org1")
    assert subscription(w)["id"] == first["id"], "found again, not made twice"


def test_disconnect_goes_through_when_close_refuses_the_teardown(w: World) -> None:
    w.harness.revoke_tokens()
    w.harness.expire_access_tokens()
    r = w.api.delete("/api/v1/orgs/org1/connection")
    assert r.status_code == 200, r.text
    assert w.connection().status == "disconnected"
    assert subscription(w)["status"] == "active", (
        "left for Close to pause: it was not ours to reach"
    )


def test_a_delivery_of_crmsyncs_own_write_is_an_echo_and_not_kept(w: World) -> None:
    admin = close(w).emulator.store.admin.id
    r = w.api.patch(
        "/api/v1/orgs/org1/connection", json={"settings": {"integration_user_id": admin}}
    )
    assert r.status_code == 200, r.text
    close(w).webhook_calls()
    close(w).manual_edit(contact_of(w, "p1"), "title", "By the integration user")
    [(_, body, headers)] = close(w).webhook_calls()
    assert post(w, body, headers) == 204
    assert hints(w) == [], "its own write: nothing to read again"
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": {"colour": "red"}})
    assert r.status_code == 422


def test_a_contact_deleted_in_close_is_not_made_again_by_the_next_push(w: World) -> None:
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": False})
    assert r.status_code == 200, r.text  # the title is the app's again: a push writes it
    contact = contact_of(w, "p1")
    close(w).delete_by_hand(contact)
    lead_count = len(leads(w))
    w.person("p1", first_name="Grace", last_name="X", title="Commodore")
    w.drain()
    assert "p1" not in w.records_by_person(), "a Close user's delete is not undone"
    assert len(leads(w)) == lead_count, "no lead made for it either"
    latest = w.operations(person_id="p1")[0]
    assert latest["status"] == "skipped" and "deleted in Close" in latest["reason"], latest
    with w.rt.db.session() as session:
        assert session.get_one(OrgRecord, ("org1", "contact", "p1")).active is False
