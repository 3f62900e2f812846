"""The planner decides what to write; these pin its promises."""

from __future__ import annotations

from crmsync.domain.enums import Direction, System
from crmsync.engine.planner import MappedField, after_write, desired_fields, plan_write

MAPPINGS = [
    MappedField("person_id", "acme_person_id", Direction.PUSH, System.APP),
    MappedField("profile_url", "acme_profile_url", Direction.PUSH, System.APP),
    MappedField("title", "jobtitle", Direction.PUSH, System.APP),
    MappedField("company", "company", Direction.PUSH, System.APP),
    MappedField("owner", "hubspot_owner_id", Direction.PUSH, System.APP),
    MappedField("city", "city", Direction.PULL, System.CRM),
]
VALUES = {
    "person_id": "p1",
    "profile_url": "https://app/p1",
    "title": "Engineer",
    "company": None,
    "city": "Paris",
}


def test_first_write_sends_full_payload_with_owner_and_no_empty_values() -> None:
    desired = desired_fields(VALUES, MAPPINGS, owner_crm_id="42")
    plan = plan_write(desired, MAPPINGS, written=None, preserve_manual_edits=False)
    assert plan.first_write
    assert plan.send == {
        "acme_person_id": "p1",
        "acme_profile_url": "https://app/p1",
        "jobtitle": "Engineer",
        "hubspot_owner_id": "42",
    }


def test_pull_only_fields_are_never_pushed() -> None:
    desired = desired_fields(VALUES, MAPPINGS, owner_crm_id=None)
    assert "city" not in desired


def test_refresh_sends_only_what_changed_since_the_last_write() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": "CTO"}, MAPPINGS, owner_crm_id=None)
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=False)
    assert plan.send == {"jobtitle": "CTO"}
    assert not plan.first_write


def test_unchanged_refresh_plans_no_write() -> None:
    desired = desired_fields(VALUES, MAPPINGS, owner_crm_id="42")
    written = after_write(None, plan_write(desired, MAPPINGS, None, False).send)
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=False)
    assert plan.unchanged
    assert "nothing changed" in plan.reason


def test_refresh_given_preserve_edits_writes_only_ids() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://old/p1", "jobtitle": "Eng"}
    desired = desired_fields(
        {**VALUES, "title": "CTO", "profile_url": "https://new/p1", "company": "New Co"},
        MAPPINGS,
        owner_crm_id="7",
    )
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=True)
    assert plan.send == {"acme_profile_url": "https://new/p1"}


def test_preserve_edits_reports_what_it_held_back() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": "CTO"}, MAPPINGS, owner_crm_id="9")
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=True)
    assert plan.unchanged
    assert "hubspot_owner_id" in plan.reason and "jobtitle" in plan.reason


def test_crm_owned_field_is_written_on_create_only() -> None:
    mappings = [*MAPPINGS[:2], MappedField("title", "jobtitle", Direction.BOTH, System.CRM)]
    desired = desired_fields({**VALUES, "title": "CTO"}, mappings, owner_crm_id=None)
    assert plan_write(desired, mappings, None, False).send["jobtitle"] == "CTO"
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    assert plan_write(desired, mappings, written, False).unchanged


def test_a_value_removed_in_the_app_is_cleared_in_the_crm() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": None}, MAPPINGS, owner_crm_id=None)
    assert plan_write(desired, MAPPINGS, written, False).send == {"jobtitle": None}
