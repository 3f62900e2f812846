"""HighLevel behaviour end to end: crmsync's API and engine against the emulated agency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crmsync.domain.enums import ConnectionStatus
from crmsync.providers.highlevel.emulator import HighLevelEmulator
from crmsync.providers.highlevel.emulator.harness import HighLevelHarness
from crmsync.providers.highlevel.spec import SPEC
from tests.support.world import World, world


@pytest.fixture
def w(db_url: str, tmp_path: Path) -> Iterator[World]:
    with world(db_url, tmp_path, "highlevel") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        instance.crm_admin_id = instance.harness.add_user("admin@acme.test", "Ann", "Admin")
        yield instance


def harness(w: World) -> HighLevelHarness:
    assert isinstance(w.harness, HighLevelHarness)
    return w.harness


def emulator(w: World) -> HighLevelEmulator:
    return harness(w).emulator


def calls(w: World, key: str) -> int:
    return emulator(w).counters.get(*key.split(" ", 1))


def test_the_location_chosen_on_the_page_is_the_one_written_to(w: World) -> None:
    first, second = emulator(w).store.location_list()
    w.harness.consent_choices = {"locationId": second.id}
    status = w.connect("org1")
    assert status["account_id"] == second.id
    assert status["account_label"] == "Harbor Fitness"
    assert status["settings"]["location_id"] == second.id
    assert status["settings"]["company_id"] == emulator(w).config.company_id
    w.person("p1", first_name="Grace")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert [c.attributes["firstName"] for c in emulator(w).store.snapshot(second.id)] == ["Grace"]
    assert emulator(w).store.snapshot(first.id) == []
    assert emulator(w).store.custom_fields(first.id) == []
    names = {f.name for f in emulator(w).store.custom_fields(second.id, "contact")}
    assert names == {"Acme Person ID", "Acme Profile URL", "Acme LinkedIn URL", "Acme Job Title"}


def test_second_person_with_a_shared_email_is_skipped_then_synced_once_allowed(w: World) -> None:
    w.connect("org1")
    w.person("p1", emails=["shared@example.com"], first_name="First")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    [first] = w.harness.records()
    w.person("p2", emails=["shared@example.com"], first_name="Second")
    w.unlock("org1", "p2", "u-admin")
    w.drain()

    [op] = w.operations(person_id="p2")
    assert op["status"] == "skipped"
    assert "does not allow duplicated contacts" in op["reason"]
    assert "same email" in op["reason"]
    assert first.crm_id in op["reason"]
    status = w.status()
    assert status["counts"]["skipped"] == 1
    [advice] = status["recommendations"]
    assert "Allow Duplicate Contact" in advice
    assert sorted(w.records_by_person()) == ["p1"]

    location = harness(w).location_id
    r = TestClient(w.harness.app).put(
        f"/_emulator/locations/{location}/settings", json={"allowDuplicateContact": True}
    )
    assert r.status_code == 200 and r.json()["settings"]["allowDuplicateContact"] is True
    r = w.api.post(f"/api/v1/orgs/org1/operations/{op['id']}/retry")
    assert r.status_code == 202, r.text
    w.drain()

    assert [o["status"] for o in w.operations(person_id="p2")] == ["inserted", "skipped"]
    records = w.records_by_person()
    assert sorted(records) == ["p1", "p2"]
    assert {r.values["email"] for found in records.values() for r in found} == {
        "shared@example.com"
    }
    assert w.status()["recommendations"] == []


def test_owner_is_the_location_user_with_the_unlockers_email(w: World) -> None:
    store = emulator(w).store
    first, second = store.location_list()
    elsewhere = store.add_user("member@acme.test", "Mo", "Member", [second.id])
    w.connect("org1")  # the first location: the member is a user of the other one only
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.person("p2")
    w.unlock("org1", "p2", "u-member")
    w.drain()
    records = w.records_by_person()
    assert records["p1"][0].owner_id == w.crm_admin_id
    assert records["p2"][0].owner_id is None
    assert elsewhere.id not in {r[0].owner_id for r in records.values()}
    assert "assignedTo" not in store.get_contact(first.id, records["p2"][0].crm_id).as_json()


def test_a_batch_makes_one_person_id_search_and_one_write_per_person(w: World) -> None:
    for i in range(7):
        w.person(f"p{i}")
        w.unlock("org1", f"p{i}", "u-admin")
    w.connect("org1")
    w.drain()
    assert calls(w, "POST /contacts/search") == 1
    assert calls(w, "POST /contacts/") == 7
    assert calls(w, "GET /contacts/{contactId}") == 0
    for i in range(7):
        w.person(f"p{i}", title="CTO")
    w.drain()
    assert calls(w, "PUT /contacts/{contactId}") == 7
    assert calls(w, "POST /contacts/search") == 1  # known contact ids need no search


def test_lost_create_responses_never_duplicate_a_person(w: World) -> None:
    w.connect("org1")
    w.harness.set_faults({"timeout_after": 0.35, "500": 0.1}, seed=7)
    for i in range(12):
        w.person(f"p{i}")
        w.unlock("org1", f"p{i}", "u-admin")
    w.drain()
    w.harness.set_faults({})
    w.drain()
    assert w.harness.faults_injected()["timeout_after"] > 0
    records = w.records_by_person()
    assert sorted(records) == sorted(f"p{i}" for i in range(12))
    assert all(len(found) == 1 for found in records.values())
    assert w.status()["counts"]["synced"] == 12


def test_a_new_connection_to_the_same_location_updates_existing_contacts(w: World) -> None:
    w.connect("org1")
    w.person("p1", title="Engineer")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    [before] = w.harness.records()
    assert w.api.delete("/api/v1/orgs/org1/connection").status_code == 200
    w.person("p1", title="CTO")
    w.connect("org1")  # a backfill without contact ids: found by Person ID, not by email
    w.drain()
    [after] = w.harness.records()
    assert after.crm_id == before.crm_id
    assert after.values["title"] == "CTO"
    assert w.operations(person_id="p1")[0]["status"] == "updated"


def test_refused_refresh_token_needs_reconnect_and_rotated_tokens_are_kept(w: World) -> None:
    w.connect("org1")
    first = w.rt.vault.open(w.connection().token_ciphertext or b"")
    w.harness.expire_access_tokens()
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    second = w.rt.vault.open(w.connection().token_ciphertext or b"")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["locationId"] == first["locationId"]
    w.harness.revoke_tokens()
    w.harness.expire_access_tokens()
    w.person("p2")
    w.unlock("org1", "p2", "u-admin")
    w.drain()
    assert w.status()["status"] == ConnectionStatus.NEEDS_RECONNECT


def test_record_url_points_at_the_contact_in_its_location(w: World) -> None:
    w.connect("org1")
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    r = w.api.get("/api/v1/orgs/org1/people/p1/sync")
    crm_id = w.harness.records()[0].crm_id
    expected = SPEC.record_url.format(account_id=harness(w).location_id, crm_id=crm_id)
    assert r.json()["crm_url"] == expected


def test_the_daily_share_and_the_overlap_are_connection_settings_checked_on_the_way_in(
    w: World,
) -> None:
    w.connect("org1")
    for bad, message in (
        ({"api_usage_share": 0.05}, "api_usage_share must be a number from 0.1 to 1"),
        ({"api_usage_share": True}, "api_usage_share must be a number from 0.1 to 1"),
        ({"overlap_seconds": 1}, "overlap_seconds must be a number from 5 to 600"),
        ({"sync_now": 1}, "unknown HighLevel setting 'sync_now'"),
    ):
        r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": bad})
        assert r.status_code == 422 and message in r.json()["detail"], r.text
    r = w.api.patch(
        "/api/v1/orgs/org1/connection",
        json={"settings": {"api_usage_share": 0.5, "overlap_seconds": 60}},
    )
    assert r.status_code == 200, r.text
    settings = w.connection().settings
    assert (settings["api_usage_share"], settings["overlap_seconds"]) == (0.5, 60.0)
