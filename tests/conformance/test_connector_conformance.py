"""The connector conformance suite: what every CRM connector must do, asserted on the CRM.

Each test drives crmsync through its public API and the CRM's OAuth consent page, runs the
engine, and reads the result back from the provider's emulator.
"""

from __future__ import annotations

from crmsync.domain.enums import ConnectionStatus, Lane
from tests.support.world import World


def _only_record(w: World, person_id: str):  # type: ignore[no-untyped-def]
    records = w.records_by_person().get(person_id, [])
    assert len(records) == 1, f"{person_id}: expected one CRM record, found {len(records)}"
    return records[0]


def test_connect_through_consent_page_marks_connected_and_creates_fields(team: World) -> None:
    status = team.connect("org1")
    assert status["status"] == ConnectionStatus.CONNECTED
    assert status["account_id"]
    assert status["connected_at"]
    names = team.harness.custom_field_names()
    assert any(name.lower().startswith("acme") and "person" in name.lower() for name in names)
    assert any("profile" in name.lower() for name in names)


def test_backfill_sends_people_unlocked_before_connecting(team: World) -> None:
    for i in range(5):
        team.person(f"p{i}")
        team.unlock("org1", f"p{i}", "u-admin")
    status = team.connect("org1")
    assert status["backfill"]["total"] == 5
    team.drain()
    assert sorted(team.records_by_person()) == [f"p{i}" for i in range(5)]
    assert team.status()["counts"]["synced"] == 5
    assert {op["lane"] for op in team.operations()} == {Lane.BACKFILL}


def test_skip_backfill_sends_only_unlocks_after_connecting(team: World) -> None:
    team.person("old")
    team.unlock("org1", "old", "u-admin")
    team.connect("org1", skip_backfill=True)
    team.person("new")
    team.unlock("org1", "new", "u-admin")
    team.drain()
    assert sorted(team.records_by_person()) == ["new"]


def test_live_unlock_lands_with_values_and_matching_owner(team: World) -> None:
    team.connect("org1")
    team.person("p1", first_name="Grace", last_name="Hopper", title="Admiral", company="Navy")
    team.unlock("org1", "p1", "u-admin")
    assert team.kicks, "an unlock must wake the queue"
    team.drain()
    record = _only_record(team, "p1")
    assert record.values["first_name"] == "Grace"
    assert record.values["last_name"] == "Hopper"
    assert record.values["title"] == "Admiral"
    assert record.values["email"] == "p1@example.com"
    assert record.values["profile_url"].endswith("/p1")
    assert record.owner_id == team.crm_admin_id
    [op] = team.operations(person_id="p1")
    assert op["status"] == "inserted"


def test_owner_falls_back_when_no_crm_user_matches(team: World) -> None:
    team.connect("org1")
    team.person("p2")
    team.unlock("org1", "p2", "u-member")
    team.drain()
    assert _only_record(team, "p2").owner_id == team.harness.owner_fallback


def test_refresh_updates_in_place_without_duplicating(team: World) -> None:
    team.connect("org1")
    team.person("p1", title="Engineer")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    first = _only_record(team, "p1")
    team.person("p1", title="CTO", emails=["ada@newjob.example"])
    team.drain()
    after = _only_record(team, "p1")
    assert after.crm_id == first.crm_id
    assert after.values["title"] == "CTO"
    assert after.values["email"] == "ada@newjob.example"
    assert [op["status"] for op in team.operations(person_id="p1")] == ["updated", "inserted"]


def test_unchanged_person_makes_no_api_call(team: World) -> None:
    team.connect("org1")
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    calls = team.harness.write_calls()
    assert team.person("p1")["changed"] is False  # same payload: nothing queued
    team.enqueue(["p1"])  # a refresh whose mapped values did not change
    team.drain()
    assert team.harness.write_calls() == calls
    assert team.operations(person_id="p1")[0]["status"] == "unchanged"


def test_preserve_manual_edits_keeps_crm_edits_and_owner(team: World) -> None:
    other = team.harness.add_user("someone@acme.test", "Sam", "Else")
    team.connect("org1")
    team.person("p1", title="Engineer")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    crm_id = _only_record(team, "p1").crm_id
    r = team.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    assert r.json()["preserve_manual_edits"] is True
    team.harness.manual_edit(crm_id, "title", "Chief Scientist")
    team.harness.manual_edit(crm_id, "owner", other)
    team.person("p1", title="Intern", profile_url="https://app.example.com/u/p1-new")
    team.drain()
    record = _only_record(team, "p1")
    assert record.values["title"] == "Chief Scientist"
    assert record.owner_id == other
    assert record.values["profile_url"] == "https://app.example.com/u/p1-new"


def test_without_preserve_a_refresh_writes_only_changed_fields(team: World) -> None:
    team.connect("org1")
    team.person("p1", title="Engineer", company="Old Co")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    crm_id = _only_record(team, "p1").crm_id
    team.harness.manual_edit(crm_id, "company", "Edited In CRM")
    team.person("p1", title="CTO", company="Old Co")
    team.drain()
    record = _only_record(team, "p1")
    assert record.values["title"] == "CTO"
    assert record.values["company"] == "Edited In CRM"


def test_duplicate_email_is_handled_as_the_crm_requires(team: World) -> None:
    team.connect("org1")
    team.harness.create_by_hand({"first_name": "Hand", "last_name": "Made", "email": "x@dup.test"})
    team.person("p1", emails=["x@dup.test"])
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    [op] = team.operations(person_id="p1")
    expected = team.harness.duplicate_email_outcome
    if expected == "synced":
        assert op["status"] == "inserted"
    else:
        assert op["status"] == expected
        assert "email" in op["reason"].lower()
        assert "p1" not in team.records_by_person()


def test_expired_access_token_is_refreshed_and_the_write_retried(team: World) -> None:
    team.connect("org1")
    version = team.connection().token_version
    team.harness.expire_access_tokens()
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    _only_record(team, "p1")
    assert team.connection().token_version == version + 1
    assert team.status()["status"] == ConnectionStatus.CONNECTED


def test_revoked_authorisation_pauses_then_reconnect_drains_without_duplicates(
    team: World,
) -> None:
    team.connect("org1")
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    team.harness.revoke_tokens()
    team.harness.expire_access_tokens()
    for pid in ("p2", "p3"):
        team.person(pid)
        team.unlock("org1", pid, "u-admin")
    team.drain()
    status = team.status()
    assert status["status"] == ConnectionStatus.NEEDS_RECONNECT
    assert status["counts"]["pending"] == 2
    assert sorted(team.records_by_person()) == ["p1"]
    team.person("p4")
    team.unlock("org1", "p4", "u-admin")  # queued while paused
    assert team.reconnect("org1")["status"] == ConnectionStatus.CONNECTED
    team.person("p1", title="Refreshed after reconnect")
    team.drain()
    records = team.records_by_person()
    assert sorted(records) == ["p1", "p2", "p3", "p4"]
    assert all(len(found) == 1 for found in records.values())
    assert team.status()["counts"]["pending"] == 0


def test_disconnect_stops_syncing_and_leaves_crm_data(team: World) -> None:
    team.connect("org1")
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    r = team.api.delete("/api/v1/orgs/org1/connection")
    assert r.status_code == 200
    assert "left as is" in r.json()["detail"]
    team.person("p2")
    team.unlock("org1", "p2", "u-admin")
    team.drain()
    assert sorted(team.records_by_person()) == ["p1"]
    assert team.api.get("/api/v1/orgs/org1/connection").status_code == 404
