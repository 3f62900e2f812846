"""The mapping rules that the HubSpot emulator has no field to show: a read-only CRM field."""

from __future__ import annotations

from crmsync.domain.commands import MapField, MapObject
from crmsync.domain.enums import System
from crmsync.domain.records import FieldDescription, FieldKind
from crmsync.domain.views import AppFieldView
from crmsync.services.app_fields import PERSON_FIELDS
from crmsync.services.mapping_rules import Checked, Fixed, check

FIXED = Fixed("Acme CRM", "acme_person_id", "id", "owner_id")
SCORE = AppFieldView("score", "Score", "text", custom=True)
APP = {f.name: f for f in (*PERSON_FIELDS, SCORE)}
CATALOGUE = {
    "computed_label": FieldDescription("computed_label", "Label", FieldKind.STRING, read_only=True)
}
IDS = (
    MapField("person_id", "acme_person_id", System.APP),
    MapField("crm_record_id", "id", System.CRM),
)


def _check(*rows: MapField) -> Checked | list[str]:
    return check(MapObject("contact", (*IDS, *rows)), APP, CATALOGUE, FIXED, "conn-1")


def test_a_person_field_cannot_map_to_a_read_only_crm_field() -> None:
    found = _check(MapField("title", "computed_label", System.CRM))
    assert found == [
        "fields[2] (title → computed_label): Acme CRM's 'computed_label' is read-only, and "
        "crmsync writes every mapped field with a value when it creates a record"
    ]


def test_a_custom_field_the_crm_owns_may_read_a_read_only_crm_field() -> None:
    found = _check(MapField("score", "computed_label", System.CRM))
    assert isinstance(found, Checked)
    [person_id, score] = found.fields
    assert (person_id.identity, person_id.source_of_truth) == (True, "app")
    assert (score.local_field, score.source_of_truth, score.identity) == ("score", "conn-1", False)


def test_the_record_id_row_is_checked_but_not_stored() -> None:
    found = _check()
    assert isinstance(found, Checked)
    assert [f.local_field for f in found.fields] == ["person_id"]


def test_a_connectors_own_default_is_accepted_as_it_is_and_nothing_else_like_it() -> None:
    fixed = Fixed("Close", "acme_person_id", "id", None, frozenset({("emails", "contact.emails")}))
    rows = (*IDS, MapField("emails", "contact.emails", System.APP))
    assert isinstance(check(MapObject("contact", rows), APP, None, fixed, "c"), Checked)
    rows = (*IDS, MapField("emails", "contact.phones", System.APP))
    assert check(MapObject("contact", rows), APP, None, fixed, "c") == [
        "fields[2] (emails → contact.phones): 'emails' holds several values; a CRM field holds "
        "one (map email instead)"
    ]
