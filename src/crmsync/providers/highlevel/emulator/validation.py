"""Checks request bodies as HighLevel's API does (class-validator style 422 messages).

Unknown properties are refused ("property x should not exist"), as HighLevel's whitelisting
validation does; strings must be strings, emails emails, custom fields known in the location.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crmsync.providers.highlevel.emulator.errors import unprocessable
from crmsync.providers.highlevel.emulator.records import (
    STRING_ATTRIBUTES,
    ContactInput,
    CustomField,
)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COMMON = {*STRING_ATTRIBUTES, "name", "dnd", "dndSettings", "inboundDndSettings", "tags"}
_COMMON |= {"customFields", "dateOfBirth", "assignedTo"}
CREATE_KEYS = frozenset({*_COMMON, "locationId"})
UPDATE_KEYS = frozenset(_COMMON)
UPSERT_KEYS = frozenset({*CREATE_KEYS, "createNewIfDuplicateAllowed"})
DATA_TYPES = frozenset(
    {
        "TEXT",
        "LARGE_TEXT",
        "NUMERICAL",
        "PHONE",
        "MONETORY",
        "CHECKBOX",
        "SINGLE_OPTIONS",
        "MULTIPLE_OPTIONS",
        "FLOAT",
        "TIME",
        "DATE",
        "TEXTBOX_LIST",
        "FILE_UPLOAD",
        "SIGNATURE",
        "RADIO",
    }
)


def _require_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise unprocessable(["body must be an object"])
    return body


def parse_contact(
    body: Any,
    allowed: frozenset[str],
    fields: Mapping[str, CustomField],
    user_ids: frozenset[str],
) -> ContactInput:
    """``fields`` are the location's contact custom fields by id and by ``fieldKey``."""
    body = _require_object(body)
    errors = [f"property {key} should not exist" for key in body if key not in allowed]
    parsed = ContactInput()
    for key in STRING_ATTRIBUTES:
        if key not in body:
            continue
        value = body[key]
        if value is not None and not isinstance(value, str):
            errors.append(f"{key} must be a string")
        elif key == "email" and value and not EMAIL.match(value):
            errors.append("email must be an email")
        else:
            parsed.attributes[key] = value or None
    if "assignedTo" in body:
        owner = body["assignedTo"]
        if owner is not None and not isinstance(owner, str):
            errors.append("assignedTo must be a string")
        elif owner and owner not in user_ids:  # message unconfirmed
            errors.append("assignedTo must be the id of a user of this location")
        else:
            parsed.assigned_to = owner or None
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors.append("each value in tags must be a string")
        else:
            parsed.tags = list(tags)
    if "dnd" in body:
        if not isinstance(body["dnd"], bool):
            errors.append("dnd must be a boolean value")
        else:
            parsed.dnd = body["dnd"]
    errors.extend(_parse_custom(body.get("customFields"), fields, parsed))
    if errors:
        raise unprocessable(errors)
    return parsed


def _parse_custom(items: Any, fields: Mapping[str, CustomField], parsed: ContactInput) -> list[str]:
    if items is None:
        return []
    if not isinstance(items, list):
        return ["customFields must be an array"]
    errors: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            errors.append(f"customFields.{index} must be an object")
            continue
        ref = item.get("id") or item.get("key")
        key = f"contact.{ref}" if isinstance(ref, str) and "." not in ref else ref
        definition = fields.get(str(ref)) or fields.get(str(key))
        if definition is None:
            errors.append(f"customFields.{index} refers to an unknown custom field {ref!r}")
            continue
        value = item.get("field_value", item.get("value"))
        if value is not None and not isinstance(value, (str, int, float, bool)):
            errors.append(f"customFields.{index}.field_value must be a string")
            continue
        parsed.custom[definition.id] = "" if value is None else str(value)
    return errors


def parse_custom_field(body: Any) -> tuple[str, str, str, str]:
    """``(name, dataType, model, placeholder)`` of a custom field to create."""
    body = _require_object(body)
    errors: list[str] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append("name should not be empty")
    data_type = body.get("dataType")
    if data_type not in DATA_TYPES:
        errors.append(
            f"dataType must be one of the following values: {', '.join(sorted(DATA_TYPES))}"
        )
    model = body.get("model", "contact")
    if model not in ("contact", "opportunity"):
        errors.append("model must be one of the following values: contact, opportunity")
    placeholder = body.get("placeholder", "")
    if errors:
        raise unprocessable(errors)
    return str(name).strip(), str(data_type), str(model), str(placeholder or "")
