"""Validates lead, contact and custom-field payloads the way Close's API does, before any write.

Each parser returns the changes to apply, or raises a 400 naming every bad field. Keys Close
computes (``id``, ``date_created`` …) are ignored, as Close ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.records import CustomField

FIELD_TYPES = frozenset({"text", "number", "date", "datetime", "choices", "user", "hidden"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
COUNTRY = re.compile(r"[A-Z]{2}")
ADDRESS_KEYS = ("label", "address_1", "address_2", "city", "state", "zipcode", "country")
CUSTOM = "custom."


@dataclass
class ContactChanges:
    values: dict[str, Any] = field(default_factory=dict)  # attribute → value
    custom: dict[str, Any] = field(default_factory=dict)  # field id → value (None clears)


LeadChanges = ContactChanges
"""A lead's own fields and its lead custom field values, in the same shape."""


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError("Not a valid string.")


def _entries(value: Any, key: str, check: Callable[[str], str | None]) -> list[dict[str, str]]:
    """``emails`` / ``phones`` / ``urls``: a list of ``{key, type}``; raises with per-item
    errors."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("Not a valid list.")
    entries: list[dict[str, str]] = []
    problems: dict[str, Any] = {}
    for index, item in enumerate(value):
        raw = item.get(key) if isinstance(item, dict) else None
        problem = "This field is required." if not isinstance(raw, str) else check(raw.strip())
        if problem:
            problems[str(index)] = {key: problem}
            continue
        assert isinstance(raw, str) and isinstance(item, dict)
        entries.append({key: raw.strip(), "type": str(item.get("type") or "office")})
    if problems:
        raise _Nested(problems)
    return entries


class _Nested(ValueError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("invalid entries")
        self.errors = errors


def _email(value: str) -> str | None:
    return None if EMAIL.fullmatch(value) else "Invalid email address."


def _phone(value: str) -> str | None:
    return None if sum(c.isdigit() for c in value) >= 3 else "Invalid phone number."


def _url(value: str) -> str | None:
    return None if value else "Invalid URL."


def _custom_value(definition: CustomField, value: Any, users: Collection[str]) -> Any:
    if value is None or value == "":
        return None
    if definition.accepts_multiple_values and isinstance(value, list):
        return [_custom_value(definition, item, users) for item in value]
    if definition.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("Not a valid number.")
        return float(value)
    if definition.type == "user":
        if value not in users:
            raise ValueError(f"Not a valid user id: {value!r}.")
        return value
    if definition.type == "choices" and value not in definition.choices:
        raise ValueError(f"{value!r} is not one of the choices.")
    return _text(value)


def _custom(
    key: str, value: Any, fields: Mapping[str, CustomField], users: Collection[str], kind: str
) -> tuple[str, Any]:
    field_id = key.removeprefix(CUSTOM)
    definition = fields.get(field_id)
    if definition is None:
        raise ValueError(f"There is no {kind} custom field with this id.")
    return field_id, _custom_value(definition, value, users)


def parse_contact(
    payload: Mapping[str, Any], fields: Mapping[str, CustomField], users: Collection[str]
) -> ContactChanges:
    changes = ContactChanges()
    errors: dict[str, Any] = {}
    parsers: dict[str, Callable[[Any], Any]] = {
        "name": _text,
        "title": _text,
        "emails": lambda v: _entries(v, "email", _email),
        "phones": lambda v: _entries(v, "phone", _phone),
        "urls": lambda v: _entries(v, "url", _url),
    }
    for key, value in payload.items():
        try:
            if key in parsers:
                changes.values[key] = parsers[key](value)
            elif key.startswith(CUSTOM):
                field_id, parsed = _custom(key, value, fields, users, "contact")
                changes.custom[field_id] = parsed
        except _Nested as exc:
            errors[key] = exc.errors
        except ValueError as exc:
            errors[key] = str(exc)
    if errors:
        raise invalid(field_errors=errors)
    return changes


def _address(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Nested({"address": "Not a valid address."})
    try:
        address = {key: _text(value[key]) for key in ADDRESS_KEYS if value.get(key) is not None}
    except ValueError as exc:
        raise _Nested({"address": str(exc)}) from exc
    country = address.get("country")
    if country is not None and not COUNTRY.fullmatch(country):
        raise _Nested({"country": "Not a valid ISO 3166 country code."})
    address.setdefault("label", "business")
    return address


def parse_lead(
    payload: Mapping[str, Any], fields: Mapping[str, CustomField], users: Collection[str]
) -> LeadChanges:
    """The lead's own fields and lead custom values (contacts are parsed separately, only on
    create)."""
    changes = LeadChanges()
    errors: dict[str, Any] = {}
    for key in ("name", "description", "url"):
        if key in payload:
            try:
                changes.values[key] = _text(payload[key])
            except ValueError as exc:
                errors[key] = str(exc)
    for key, value in payload.items():
        if key.startswith(CUSTOM):
            try:
                field_id, parsed = _custom(key, value, fields, users, "lead")
                changes.custom[field_id] = parsed
            except ValueError as exc:
                errors[key] = str(exc)
    if "addresses" in payload:
        addresses = payload["addresses"]
        if not isinstance(addresses, list):
            errors["addresses"] = "Not a valid list."
        else:
            parsed_addresses: list[dict[str, Any]] = []
            problems: dict[str, Any] = {}
            for index, item in enumerate(addresses):
                try:
                    parsed_addresses.append(_address(item))
                except _Nested as exc:
                    problems[str(index)] = exc.errors
            if problems:
                errors["addresses"] = problems
            changes.values["addresses"] = parsed_addresses
    if errors:
        raise invalid(field_errors=errors)
    return changes


def lead_contacts(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    contacts = payload.get("contacts") or []
    if not isinstance(contacts, list) or not all(isinstance(c, dict) for c in contacts):
        raise invalid(field_errors={"contacts": "Not a valid list of contacts."})
    return contacts


def parse_custom_field(payload: Mapping[str, Any], taken: Collection[str]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "This field is required."
    elif name.strip() in taken:
        errors["name"] = "A custom field with this name already exists."
    kind = payload.get("type")
    if kind not in FIELD_TYPES:
        errors["type"] = f"Not a valid choice; expected one of {', '.join(sorted(FIELD_TYPES))}."
    choices = payload.get("choices") or []
    if kind == "choices" and (not isinstance(choices, list) or not choices):
        errors["choices"] = "Choices fields need at least one choice."
    if errors:
        raise invalid(field_errors=errors)
    assert isinstance(name, str)
    return {
        "name": name.strip(),
        "type": str(kind),
        "accepts_multiple_values": bool(payload.get("accepts_multiple_values", False)),
        "choices": [str(c) for c in choices] if kind == "choices" else [],
        "description": str(payload.get("description") or ""),
        "editable_with_roles": list(payload.get("editable_with_roles") or []),
    }
