"""What makes a set of field mappings valid: pure functions, no I/O.

Every problem of a proposed set is reported at once, each naming its row, so that an admin can
fix them all in one go; a set with any problem is refused whole (nothing is saved).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from crmsync.domain.commands import MapField, MapObject
from crmsync.domain.enums import System
from crmsync.domain.mapping import APP, FieldMap, ValueKind
from crmsync.domain.records import FieldDescription, FieldKind
from crmsync.domain.views import AppFieldView
from crmsync.services.app_fields import CRM_RECORD_ID, IDENTITY, OWNER, PERSON_ID

FIXED_ROWS = frozenset({PERSON_ID, CRM_RECORD_ID})
HOLDS: Mapping[str, FieldKind] = MappingProxyType(
    {
        ValueKind.TEXT: FieldKind.STRING,
        ValueKind.NUMBER: FieldKind.NUMBER,
        ValueKind.BOOLEAN: FieldKind.BOOLEAN,
        ValueKind.DATE: FieldKind.DATE,
        ValueKind.DATETIME: FieldKind.DATETIME,
        ValueKind.PICKLIST: FieldKind.PICKLIST,
        ValueKind.MULTI_PICKLIST: FieldKind.MULTI_PICKLIST,
    }
)
"""The CRM field kind each app value kind maps to: a date to a date, a multi-select to a
multi-select; text only to text (a picklist would refuse values it does not list)."""


@dataclass(frozen=True)
class Fixed:
    """What the connection's CRM fixes: where the Person ID and the record id live, and the
    field holding a record's owner (None: the CRM has none crmsync writes)."""

    crm: str
    """The CRM's display name, for messages."""
    person_id_field: str
    record_id_field: str
    owner_field: str | None
    defaults: frozenset[tuple[str, str]] = frozenset()
    """The connector's own default (app field, CRM field) pairs: accepted as they are (Close
    keeps a person's several emails in its contacts' list of emails)."""


@dataclass(frozen=True)
class Checked:
    """A valid set: the field maps to store (the record id row is the link's, not stored)."""

    fields: tuple[FieldMap, ...]


def check(
    proposed: MapObject,
    app: Mapping[str, AppFieldView],
    catalogue: Mapping[str, FieldDescription] | None,
    fixed: Fixed,
    connection_id: str,
) -> Checked | list[str]:
    """The field maps of ``proposed``, or every problem with it. ``catalogue`` is the CRM's
    (None: the CRM cannot describe its fields, and CRM field names are taken as given)."""
    problems: list[str] = []
    fields: list[FieldMap] = []
    seen_app: dict[str, int] = {}
    seen_crm: dict[str, str] = {}
    for index, row in enumerate(proposed.fields):
        where = f"fields[{index}] ({row.app_field} → {row.crm_field})"
        found = _row_problems(row, app, catalogue, fixed)
        if row.app_field in seen_app:
            found.append(
                f"{row.app_field!r} is mapped twice (also fields[{seen_app[row.app_field]}])"
            )
        if row.crm_field in seen_crm:
            found.append(
                f"the CRM field {row.crm_field!r} is already mapped from "
                f"{seen_crm[row.crm_field]!r}: a CRM field is mapped once"
            )
        seen_app.setdefault(row.app_field, index)
        seen_crm.setdefault(row.crm_field, row.app_field)
        problems += [f"{where}: {p}" for p in found]
        if not found and row.app_field != CRM_RECORD_ID:
            fields.append(_field_map(row, app[row.app_field], connection_id))
    for required, crm_field in (
        (PERSON_ID, fixed.person_id_field),
        (CRM_RECORD_ID, fixed.record_id_field),
    ):
        if required not in seen_app:
            label = app[required].label if required in app else required
            problems.append(
                f"the {label} mapping ({required} → {crm_field}) is required and cannot be removed"
            )
    return problems if problems else Checked(tuple(fields))


def _field_map(row: MapField, app_field: AppFieldView, connection_id: str) -> FieldMap:
    owner = APP if row.canonical is System.APP else connection_id
    return FieldMap(
        local_field=row.app_field,
        crm_field=row.crm_field,
        kind=ValueKind(app_field.kind),
        source_of_truth=owner,
        identity=row.app_field in IDENTITY and owner == APP,
    )


def _row_problems(
    row: MapField,
    app: Mapping[str, AppFieldView],
    catalogue: Mapping[str, FieldDescription] | None,
    fixed: Fixed,
) -> list[str]:
    field = app.get(row.app_field)
    if field is None:
        return [f"there is no app field {row.app_field!r} (the org's fields: GET …/fields)"]
    if row.kind is not None and row.kind != field.kind:
        return [f"{row.app_field!r} holds {field.kind} values, not {row.kind}"]
    if (row.app_field, row.crm_field) in fixed.defaults and row.app_field not in FIXED_ROWS:
        return []
    if not field.mappable:
        return [f"{row.app_field!r} {field.why}"]
    if row.app_field == PERSON_ID:
        return _fixed_row(
            row, System.APP, fixed.person_id_field, "the field crmsync matches records by"
        )
    if row.app_field == CRM_RECORD_ID:
        return _fixed_row(
            row, System.CRM, fixed.record_id_field, f"where {fixed.crm} keeps each record's id"
        )
    if row.app_field == OWNER:
        if fixed.owner_field is None:
            return [f"{fixed.crm} has no owner field crmsync writes"]
        if row.crm_field != fixed.owner_field:
            return [f"the owner maps to {fixed.crm}'s record owner, {fixed.owner_field!r}, only"]
        return []
    if field.custom and row.canonical is System.APP:
        return [
            "the host sends no values for custom fields yet, so the app cannot be its canonical "
            "system: map it with canonical 'crm' to receive the CRM's values"
        ]
    if catalogue is None:
        return []
    return _catalogue_problems(row, field, catalogue, fixed.crm)


def _fixed_row(row: MapField, canonical: System, crm_field: str, why: str) -> list[str]:
    found = []
    if row.crm_field != crm_field:
        found.append(f"{row.app_field} maps to {crm_field!r}, {why}; it cannot change")
    if row.canonical is not canonical:
        found.append(f"the canonical system of {row.app_field} is {canonical.value!r}")
    return found


def _catalogue_problems(
    row: MapField,
    field: AppFieldView,
    catalogue: Mapping[str, FieldDescription],
    crm: str,
) -> list[str]:
    described = catalogue.get(row.crm_field)
    if described is None:
        return [f"{crm} has no field {row.crm_field!r} (its fields: GET …/connection/fields)"]
    expected = HOLDS.get(field.kind)
    if expected is None:
        return [f"{row.app_field!r} holds {field.kind} values, which map to no CRM field"]
    if described.kind is not expected:
        return [
            f"{row.app_field!r} holds {field.kind} values but {crm}'s {row.crm_field!r} is a "
            f"{described.kind} field: map it to a {expected} field"
        ]
    found = []
    if described.read_only and not (field.custom and row.canonical is System.CRM):
        found.append(
            f"{crm}'s {row.crm_field!r} is read-only, and crmsync writes every mapped field "
            "with a value when it creates a record"
        )
    missing = [o for o in field.options if o not in described.options]
    if missing:
        found.append(
            f"{', '.join(repr(o) for o in missing)} of {row.app_field!r} "
            f"{'is not an option' if len(missing) == 1 else 'are not options'} of "
            f"{crm}'s {row.crm_field!r}"
        )
    return found
