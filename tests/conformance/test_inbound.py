"""The inbound half of the conformance suite, run for every connector that declares
``read_changes``: what a CRM user does in the CRM comes back to the app as the ownership
rules say, and crmsync's own writes never come back at all.

Each test edits the CRM through the emulator's harness as a CRM user would, asks for a sync
through the host API, runs the engine, and looks at the change feed, the org's records and the
CRM's stored record.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from crmsync.db.tables import OrgRecord, SyncState
from crmsync.emulation.harness import DeletesByHand, MergesByHand
from crmsync.engine import intake
from tests.conformance.views import changes, crm_record
from tests.support.world import World


def test_a_quiet_second_sync_writes_nothing_and_reports_nothing(linked: World) -> None:
    writes = linked.harness.write_calls()
    linked.sync_back()
    assert linked.harness.write_calls() == writes
    assert changes(linked) == []


def test_an_app_owned_field_edited_in_the_crm_is_put_back_at_the_next_sync(
    linked: World,
) -> None:
    record = crm_record(linked, "p1")
    linked.harness.manual_edit(record.crm_id, "title", "Pirate")
    linked.sync_back()
    assert crm_record(linked, "p1").values["title"] == "Admiral"
    assert changes(linked) == [], "the app owns the title: nothing changed on the app side"
    writes = linked.harness.write_calls()
    linked.sync_back()
    assert linked.harness.write_calls() == writes, "reverted once, then quiet"


def test_with_manual_edits_preserved_a_crm_edit_reaches_the_feed(linked: World) -> None:
    r = linked.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    assert r.status_code == 200, r.text
    record = crm_record(linked, "p1")
    linked.harness.manual_edit(record.crm_id, "title", "Rear Admiral")
    linked.sync_back()
    assert changes(linked) == [
        {
            "kind": "updated",
            "record_id": "p1",
            "fields": {"title": "Rear Admiral"},
            "owner": {"user_id": "u-admin", "crm_user_email": "admin@acme.test"},
        }
    ]
    assert crm_record(linked, "p1").values["title"] == "Rear Admiral", "never reverted"


def test_an_emptied_crm_owned_field_empties_the_app_value(linked: World) -> None:
    linked.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    linked.harness.manual_edit(crm_record(linked, "p1").crm_id, "title", "")
    linked.sync_back()
    assert [c["fields"] for c in changes(linked)] == [{"title": None}]


def test_an_owner_reassigned_in_the_crm_flows_back_as_the_matching_user(linked: World) -> None:
    member = linked.harness.add_user("member@acme.test", "Max", "Member")
    linked.api.patch("/api/v1/orgs/org1/connection", json={"sync_interval_minutes": 10})
    with linked.rt.db.session() as session:  # the CRM's users are read again at the next run
        linked.connection_row(session).owners_fetched_at = None
    linked.harness.manual_edit(crm_record(linked, "p1").crm_id, "owner", member)
    linked.sync_back()
    owned = [c for c in changes(linked) if c["kind"] == "owner_changed"]
    assert owned and owned[-1]["owner"] == {
        "user_id": "u-member",
        "crm_user_email": "member@acme.test",
    }
    assert crm_record(linked, "p1").owner_id == member, "the CRM owns ownership: kept"


def test_a_change_is_taken_in_once_even_if_the_worker_dies_before_committing(
    linked: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    linked.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    linked.harness.manual_edit(crm_record(linked, "p1").crm_id, "title", "Commodore")
    with linked.rt.db.session() as session:
        before = session.scalars(select(SyncState.cursor)).all()
    real = intake.Intake.take

    def dies(self: intake.Intake, session: Any, page: Any) -> None:
        real(self, session, page)
        raise KeyboardInterrupt("the worker is killed before the page commits")

    monkeypatch.setattr(intake.Intake, "take", dies)
    with pytest.raises(KeyboardInterrupt):
        linked.sync_back()
    with linked.rt.db.session() as session:
        assert session.scalars(select(SyncState.cursor)).all() == before, "cursor not moved"
    assert changes(linked) == []
    monkeypatch.setattr(intake.Intake, "take", real)
    linked.sync_back()
    linked.sync_back()
    assert [c["fields"] for c in changes(linked)] == [{"title": "Commodore"}]


def test_sync_interval_is_validated_and_a_push_only_connection_refuses_sync_now(
    linked: World,
) -> None:
    for bad in (5, 1441, "often"):
        r = linked.api.patch("/api/v1/orgs/org1/connection", json={"sync_interval_minutes": bad})
        assert r.status_code == 422, r.text
    assert linked.status()["sync"]["interval_minutes"] == 15
    r = linked.api.patch("/api/v1/orgs/org1/connection", json={"sync_interval_minutes": 60})
    assert r.status_code == 200 and r.json()["sync"]["interval_minutes"] == 60


def test_a_record_deleted_in_the_crm_is_deactivated_and_restored_reactivated(
    linked: World,
) -> None:
    if not isinstance(linked.harness, DeletesByHand):
        pytest.skip(f"{linked.provider}'s harness cannot delete by hand")
    crm_id = crm_record(linked, "p1").crm_id
    linked.harness.delete_by_hand(crm_id)
    linked.sync_back()
    assert [c["kind"] for c in changes(linked)] == ["deactivated"]
    with linked.rt.db.session() as session:
        assert session.get_one(OrgRecord, ("org1", "contact", "p1")).active is False
    linked.harness.restore_by_hand(crm_id)
    linked.sync_back()
    assert [c["kind"] for c in changes(linked)] == ["deactivated", "reactivated"]
    writes = linked.harness.write_calls()
    linked.sync_back()
    assert linked.harness.write_calls() == writes
    assert len(changes(linked)) == 2, "each once: a quiet read after reports nothing"


def test_a_record_merged_into_one_crmsync_never_linked_follows_the_survivor(
    linked: World,
) -> None:
    if not isinstance(linked.harness, MergesByHand):
        pytest.skip(f"{linked.provider}'s harness cannot merge by hand")
    merged = crm_record(linked, "p1").crm_id
    survivor = linked.harness.create_by_hand(
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.test"}
    )
    live = len(linked.harness.records())
    linked.harness.merge_by_hand(survivor, merged)
    linked.sync_back()
    (record,) = linked.records_by_person()["p1"]
    assert record.crm_id == survivor, "the link follows the survivor"
    assert record.values["title"] == "Admiral", "the app's fields put on the survivor"
    linked.person("p1", first_name="Grace", last_name="Hopper", title="Commodore", company="Navy")
    linked.drain()
    (record,) = linked.records_by_person()["p1"]
    assert (record.crm_id, record.values["title"]) == (survivor, "Commodore")
    assert len(linked.harness.records()) == live - 1, "updated in place, never re-created"


def test_two_linked_records_merged_keep_one_link_and_deactivate_the_other(
    linked: World,
) -> None:
    if not isinstance(linked.harness, MergesByHand):
        pytest.skip(f"{linked.provider}'s harness cannot merge by hand")
    linked.person("p2", first_name="Grace", last_name="Hopper", title="Admiral", company="Navy")
    linked.unlock("org1", "p2", "u-admin")
    linked.drain()
    linked.sync_back()
    survivor, merged = crm_record(linked, "p1").crm_id, crm_record(linked, "p2").crm_id
    linked.harness.merge_by_hand(survivor, merged)
    linked.sync_back()
    assert [(c["kind"], c["record_id"]) for c in changes(linked)] == [("deactivated", "p2")]
    with linked.rt.db.session() as session:
        assert session.get_one(OrgRecord, ("org1", "contact", "p2")).active is False
        assert session.get_one(OrgRecord, ("org1", "contact", "p1")).active is True
    assert crm_record(linked, "p1").crm_id == survivor
    writes = linked.harness.write_calls()
    linked.sync_back()
    assert linked.harness.write_calls() == writes, "a merge seen once: quiet after"
    assert len(changes(linked)) == 1


def test_a_person_id_edited_in_the_crm_is_put_back_on_the_same_record(linked: World) -> None:
    crm_id = crm_record(linked, "p1").crm_id
    live = len(linked.harness.records())
    linked.harness.manual_edit(crm_id, "person_id", "p1-typo")
    linked.sync_back()
    (record,) = linked.records_by_person()["p1"]
    assert record.crm_id == crm_id, "updated in place by the CRM's id"
    assert len(linked.harness.records()) == live, "never a second record"
    assert changes(linked) == [], "the app owns its id: nothing changed on the app side"


def test_an_owner_who_is_none_of_the_orgs_users_flows_back_unmatched_with_their_email(
    linked: World,
) -> None:
    outsider = linked.harness.add_user("rep@elsewhere.test", "Rita", "Rep")
    linked.harness.manual_edit(crm_record(linked, "p1").crm_id, "owner", outsider)
    linked.sync_back()
    owned = [c for c in changes(linked) if c["kind"] == "owner_changed"]
    assert owned and owned[-1]["owner"] == {
        "user_id": None,
        "crm_user_email": "rep@elsewhere.test",
    }, "unmatched, never dropped"
    assert crm_record(linked, "p1").owner_id == outsider, "the CRM owns ownership: kept"


def test_a_record_deleted_in_the_crm_is_not_made_again_and_a_restore_takes_the_apps_edits(
    linked: World,
) -> None:
    if not isinstance(linked.harness, DeletesByHand):
        pytest.skip(f"{linked.provider}'s harness cannot delete by hand")
    crm_id = crm_record(linked, "p1").crm_id
    linked.harness.delete_by_hand(crm_id)
    linked.person("p1", first_name="Grace", last_name="Hopper", title="Commodore", company="Navy")
    linked.drain()
    assert "p1" not in linked.records_by_person(), "a CRM user's delete is not undone"
    latest = linked.operations(person_id="p1")[0]
    assert latest["status"] == "skipped" and "deleted in" in latest["reason"], latest
    linked.harness.restore_by_hand(crm_id)
    linked.sync_back()
    record = crm_record(linked, "p1")
    assert (record.crm_id, record.values["title"]) == (crm_id, "Commodore")
