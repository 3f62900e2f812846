"""Three-way decisions on a record read back from the CRM: these pin the ownership promises."""

from __future__ import annotations

from typing import Any

from crmsync.domain.mapping import APP, FieldMap, FieldMaps, ValueKind
from crmsync.engine.reconcile import Verdict, reconcile, same

CRM = "conn-1"
MAPPINGS = FieldMaps.of(
    [
        FieldMap("person_id", "acme_person_id", ValueKind.KEY, APP, identity=True),
        FieldMap("title", "jobtitle", ValueKind.TEXT, CRM),
        FieldMap("company", "company", ValueKind.TEXT, APP),
        FieldMap("owner", "hubspot_owner_id", ValueKind.USER, CRM),
        FieldMap("seats", "seats", ValueKind.NUMBER, CRM),
    ]
)
SHADOW = {"acme_person_id": "p1", "jobtitle": "Eng", "company": "Acme", "hubspot_owner_id": "42"}
USERS = {"42": "ann@acme.test", "7": "bob@acme.test"}


def read(values: dict[str, Any], **kw: Any) -> Any:
    return reconcile({**SHADOW, **values}, MAPPINGS, SHADOW, CRM, USERS, **kw)


def test_a_record_equal_to_the_shadow_is_no_change_whoever_wrote_it() -> None:
    result = read({})
    assert not result.changed and result.shadow == SHADOW


def test_a_crm_owned_field_edited_in_the_crm_is_taken() -> None:
    result = read({"jobtitle": "CTO"})
    assert result.taken == {"title": "CTO"} and result.drift == []
    assert result.shadow["jobtitle"] == "CTO"


def test_an_empty_crm_owned_value_empties_the_app_field() -> None:
    result = read({"jobtitle": ""})
    assert result.taken == {"title": None}


def test_an_app_owned_field_edited_in_the_crm_is_drift_to_put_back() -> None:
    result = read({"company": "Rival", "acme_person_id": "p9"})
    assert result.taken == {}
    assert sorted(result.drift) == ["acme_person_id", "company"]
    assert result.shadow["company"] == "Rival", "the next push sees what the CRM holds"
    assert {v.verdict for v in result.verdicts} == {Verdict.DRIFT}


def test_an_owner_reassigned_in_the_crm_comes_back_as_the_users_email() -> None:
    assert read({"hubspot_owner_id": "7"}).taken == {"owner": "bob@acme.test"}
    assert read({"hubspot_owner_id": "99"}).taken == {"owner": None}


def test_preserved_manual_edits_make_every_non_identity_field_the_crms() -> None:
    result = read({"company": "Rival", "acme_person_id": "p9"}, preserve_manual_edits=True)
    assert result.taken == {"company": "Rival"} and result.drift == ["acme_person_id"]


def test_a_new_record_takes_every_field_with_a_value() -> None:
    result = reconcile(
        {"acme_person_id": "p2", "jobtitle": "", "company": "New", "hubspot_owner_id": "42"},
        MAPPINGS,
        None,
        CRM,
        USERS,
    )
    assert result.taken == {"person_id": "p2", "company": "New", "owner": "ann@acme.test"}


def test_fields_not_read_are_left_alone() -> None:
    result = reconcile({"jobtitle": "CTO"}, MAPPINGS, SHADOW, CRM, USERS)
    assert result.taken == {"title": "CTO"} and set(result.shadow) == set(SHADOW)


def test_what_the_crm_stores_for_a_write_is_not_an_edit() -> None:
    """Salesforce truncates to the field's length: the truncated value is crmsync's own."""
    shadow = {**SHADOW, "company": "A" * 300}
    values = {**shadow, "company": "A" * 255}
    truncated = reconcile(
        values, MAPPINGS, shadow, CRM, USERS, stored=lambda f, v: v[:255] if v else v
    )
    assert not truncated.changed
    assert reconcile(values, MAPPINGS, shadow, CRM, USERS).drift == ["company"]


def test_values_compare_as_their_kind() -> None:
    assert same(ValueKind.NUMBER, "10", 10.0)
    assert same(ValueKind.BOOLEAN, "true", True)
    assert same(ValueKind.MULTI_PICKLIST, "a;b", ["b", "a"])
    assert same(ValueKind.TEXT, None, "")
    assert not same(ValueKind.TEXT, "a", "")
    assert read({"seats": "3"}).shadow["seats"] == "3"
