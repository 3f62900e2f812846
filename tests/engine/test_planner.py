"""The planner decides what to write; these pin its promises."""

from __future__ import annotations

from crmsync.domain.mapping import APP, FieldMap, FieldMaps, ValueKind
from crmsync.engine.planner import after_write, desired_fields, plan_write

CRM = "conn-1"
"""The connection written to, as the endpoint that owns CRM-owned fields."""
FIELDS = [
    FieldMap("person_id", "acme_person_id", ValueKind.KEY, APP, identity=True),
    FieldMap("profile_url", "acme_profile_url", ValueKind.TEXT, APP, identity=True),
    FieldMap("title", "jobtitle", ValueKind.TEXT, APP),
    FieldMap("company", "company", ValueKind.TEXT, APP),
    FieldMap("owner", "hubspot_owner_id", ValueKind.USER, APP),
]
MAPPINGS = FieldMaps.of(FIELDS)
VALUES = {
    "person_id": "p1",
    "profile_url": "https://app/p1",
    "title": "Engineer",
    "company": None,
    "owner": "Ann@Acme.test",
}
USERS = {"ann@acme.test": "42", "bob@acme.test": "7"}


def test_first_write_sends_full_payload_with_owner_and_no_empty_values() -> None:
    desired = desired_fields(VALUES, MAPPINGS, USERS)
    plan = plan_write(desired, MAPPINGS, written=None, preserve_manual_edits=False)
    assert plan.first_write
    assert plan.send == {
        "acme_person_id": "p1",
        "acme_profile_url": "https://app/p1",
        "jobtitle": "Engineer",
        "hubspot_owner_id": "42",
    }


def test_owner_is_a_user_reference_translated_to_the_crm_user_by_email() -> None:
    assert desired_fields(VALUES, MAPPINGS, USERS)["hubspot_owner_id"] == "42"
    nobody = desired_fields({**VALUES, "owner": "carol@acme.test"}, MAPPINGS, USERS)
    assert nobody["hubspot_owner_id"] is None
    plan = plan_write(nobody, MAPPINGS, None, False)
    assert "hubspot_owner_id" not in plan.send, "a create leaves an unmatched owner unset"


def test_refresh_sends_only_what_changed_since_the_last_write() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": "CTO"}, MAPPINGS, users={})
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=False)
    assert plan.send == {"jobtitle": "CTO"}
    assert not plan.first_write


def test_unchanged_refresh_plans_no_write() -> None:
    desired = desired_fields(VALUES, MAPPINGS, users=USERS)
    written = after_write(None, plan_write(desired, MAPPINGS, None, False).send)
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=False)
    assert plan.unchanged
    assert "nothing changed" in plan.reason


def test_refresh_given_preserve_edits_writes_only_ids() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://old/p1", "jobtitle": "Eng"}
    desired = desired_fields(
        {**VALUES, "title": "CTO", "profile_url": "https://new/p1", "company": "New Co"},
        MAPPINGS,
        users=USERS,
    )
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=True)
    assert plan.send == {"acme_profile_url": "https://new/p1"}


def test_preserve_edits_reports_what_it_held_back() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": "CTO"}, MAPPINGS, users=USERS)
    plan = plan_write(desired, MAPPINGS, written, preserve_manual_edits=True)
    assert plan.unchanged
    assert "hubspot_owner_id" in plan.reason and "jobtitle" in plan.reason


def test_crm_owned_field_is_written_on_create_only() -> None:
    mappings = FieldMaps.of([*FIELDS[:2], FieldMap("title", "jobtitle", ValueKind.TEXT, CRM)])
    desired = desired_fields({**VALUES, "title": "CTO"}, mappings, users={})
    assert plan_write(desired, mappings, None, False).send["jobtitle"] == "CTO"
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    assert plan_write(desired, mappings, written, False).unchanged


def test_a_value_removed_in_the_app_is_cleared_in_the_crm() -> None:
    written = {"acme_person_id": "p1", "acme_profile_url": "https://app/p1", "jobtitle": "Eng"}
    desired = desired_fields({**VALUES, "title": None}, MAPPINGS, users={})
    assert plan_write(desired, MAPPINGS, written, False).send == {"jobtitle": None}


def test_an_update_writes_only_the_fields_the_writing_endpoint_owns() -> None:
    """The same mappings read from the other side: written from the CRM endpoint, an update
    carries the CRM-owned field and the identity fields, never an app-owned one."""
    mappings = FieldMaps.of([*FIELDS[:3], FieldMap("company", "company", ValueKind.TEXT, CRM)])
    written = {"acme_person_id": "p1", "jobtitle": "Eng", "company": "Old"}
    desired = desired_fields({**VALUES, "title": "CTO", "company": "New"}, mappings, users={})
    from_app = plan_write(desired, mappings, written, False, writer=APP)
    from_crm = plan_write(desired, mappings, written, False, writer=CRM)
    assert from_app.send == {"acme_profile_url": "https://app/p1", "jobtitle": "CTO"}
    assert from_crm.send == {"acme_profile_url": "https://app/p1", "company": "New"}
