"""Field values on writes, checked the way Salesforce checks them.

Unknown fields fail the whole request (400 ``INVALID_FIELD``, a deserialisation error); bad
values fail the record (``STRING_TOO_LONG``, ``INVALID_EMAIL_ADDRESS``, ``MALFORMED_ID``, ...).
An empty string is stored as null, as Salesforce does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from crmsync.providers.salesforce.emulator import ids
from crmsync.providers.salesforce.emulator.errors import ItemError, RecordFailure, SalesforceError
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.schema import FieldDef, SObjectType

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
READ_ONLY_MESSAGE = (
    "Unable to create/update fields: {names}. Please check the security settings of this "
    "field and verify that it is read/write for your profile or permission set."
)

Exists = Callable[[tuple[str, ...], str], bool]
"""Whether a record of one of these sObject types has this (18-character) id."""


def unknown_field(obj: SObjectType, name: str) -> SalesforceError:
    return SalesforceError(
        400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}"
    )


def _wrong_type(name: str, value: object) -> ItemError:
    return ItemError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD", f"{name}: value not of required type: {value}", (name,)
    )


def _check(definition: FieldDef, value: Any, exists: Exists) -> Any | ItemError:
    name, label = definition.name, definition.label
    if definition.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _wrong_type(name, value)
    if definition.type in ("double", "currency", "percent"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return _wrong_type(name, value)
    if definition.type == "int":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return _wrong_type(name, value)
        try:
            number = float(value)
        except ValueError:
            return _wrong_type(name, value)
        return int(number) if number.is_integer() else _wrong_type(name, value)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return _wrong_type(name, value)
    text = str(value)
    if definition.type == "reference":
        full = ids.normalise(text)
        if full is None:
            return ItemError(
                "MALFORMED_ID", f"{label}: id value of incorrect type: {text}", (name,)
            )
        prefixes = [KEY_PREFIXES.get(target) for target in definition.reference_to]
        if None not in prefixes and full[:3] not in prefixes:
            # an id of another object: Salesforce's FIELD_INTEGRITY_EXCEPTION for a lookup
            return ItemError(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {full}", (name,)
            )
        if not exists(definition.reference_to, full):
            return ItemError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", (name,))
        return full
    if definition.type == "email" and not _EMAIL.match(text):
        return ItemError(
            "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {text}", (name,)
        )
    if definition.type in ("date", "datetime"):
        try:
            if definition.type == "date":
                return date.fromisoformat(text).isoformat()
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return _wrong_type(name, text)
        return text
    if definition.restricted and text not in definition.picklist:
        message = f"{label}: bad value for restricted picklist field: {text}"
        return ItemError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, (name,))
    if definition.length and len(text) > definition.length:
        message = f"{label}: data value too large: {text[:40]} (max length={definition.length})"
        return ItemError("STRING_TOO_LONG", message, (name,))
    return text


def check_values(
    obj: SObjectType,
    raw: Mapping[str, Any],
    *,
    creating: bool,
    exists: Exists,
    manual: bool = False,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Canonical field name → value to store (None clears). ``manual`` is a user in the UI:
    read-only fields may be set. ``skip`` names fields the caller handles (e.g. ``Id``)."""
    values: dict[str, Any] = {}
    problems: list[ItemError] = []
    read_only: list[str] = []
    for given, value in raw.items():
        if given == "attributes" or given.lower() in skip:
            continue
        definition = obj.field(given)
        if definition is None:
            raise unknown_field(obj, given)
        allowed = definition.createable if creating else definition.updateable
        if not allowed and not manual:
            read_only.append(definition.name)
            continue
        if value is None or value == "":
            if not definition.nillable and not creating:
                problems.append(
                    ItemError(
                        "REQUIRED_FIELD_MISSING",
                        f"Required fields are missing: [{definition.name}]",
                        (definition.name,),
                    )
                )
            values[definition.name] = None
            continue
        checked = _check(definition, value, exists)
        if isinstance(checked, ItemError):
            problems.append(checked)
        else:
            values[definition.name] = checked
    if read_only:
        names = ", ".join(read_only)
        problems.insert(
            0,
            ItemError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                READ_ONLY_MESSAGE.format(names=names),
                tuple(read_only),
            ),
        )
    if creating:
        refused = {name for problem in problems for name in problem.fields}
        missing = [
            f.name
            for f in obj.fields.values()
            if f.required_on_create and values.get(f.name) is None and f.name not in refused
        ]
        if missing:
            problems.append(
                ItemError(
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    tuple(missing),
                )
            )
    if problems:
        raise RecordFailure(problems)
    return values
