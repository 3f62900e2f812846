"""Property values on writes: checked and normalised the way HubSpot stores them.

HubSpot keeps every value as a string. Emails are lower-cased, datetimes become ISO-8601 UTC,
dates ``YYYY-MM-DD``; an empty string (or null) clears a property.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime

from crmsync.providers.hubspot.emulator.errors import ValueProblem, invalid_values
from crmsync.providers.hubspot.emulator.properties import READ_ONLY, PropertyDef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iso_timestamp(seconds: float) -> str:
    """HubSpot's timestamp format: ISO-8601 UTC with milliseconds and a ``Z``."""
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_millis(value: str) -> float | None:
    """Epoch milliseconds for a number, an ISO datetime or an ISO date; None if neither."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def _as_text(raw: object) -> str | None:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float | str):
        return str(raw)
    return None


def _check(definition: PropertyDef, value: str, owner_ids: Collection[str]) -> str | ValueProblem:
    name = definition.name
    if name == "email":
        value = value.strip().lower()
        if not _EMAIL.match(value):
            return ValueProblem(name, "INVALID_EMAIL", f"Email address {value} is invalid")
        return value
    if name == "hubspot_owner_id":
        if value not in owner_ids:
            return ValueProblem(name, "INVALID_OWNER_ID", f"{value} is not a valid owner id")
        return value
    if definition.type == "number":
        try:
            float(value)
        except ValueError:
            return ValueProblem(name, "INVALID_FLOAT", f"{value!r} was not a valid number.")
        return value
    if definition.type in ("datetime", "date"):
        millis = to_millis(value)
        if millis is None:
            return ValueProblem(name, "INVALID_DATE", f"{value!r} is not a valid date.")
        if definition.type == "date":
            return datetime.fromtimestamp(millis / 1000, tz=UTC).date().isoformat()
        return iso_timestamp(millis / 1000)
    if definition.options and not definition.external_options:
        allowed = [option.value for option in definition.options]
        chosen = value.split(";") if definition.field_type == "checkbox" else [value]
        bad = [choice for choice in chosen if choice not in allowed]
        if bad:
            return ValueProblem(
                name, "INVALID_OPTION", f"{bad[0]} was not one of the allowed options: {allowed}"
            )
    return value


def normalise(
    raw: Mapping[str, object],
    definitions: Mapping[str, PropertyDef],
    owner_ids: Collection[str],
    *,
    allow_read_only: bool = False,
) -> dict[str, str]:
    """Validated values to write (``""`` means clear), or HubSpotError 400 listing every
    problem (``PROPERTY_DOESNT_EXIST``, ``READ_ONLY_VALUE``, ``INVALID_EMAIL``, ...)."""
    values: dict[str, str] = {}
    problems: list[ValueProblem] = []
    for name, given in raw.items():
        definition = definitions.get(name)
        if definition is None:
            problems.append(
                ValueProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
            continue
        if name in READ_ONLY and not allow_read_only:
            problems.append(
                ValueProblem(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property')
            )
            continue
        text = _as_text(given)
        if text is None:
            problems.append(
                ValueProblem(name, "INVALID_PROPERTY_VALUE", f"{given!r} is not a valid value")
            )
            continue
        if text == "":
            values[name] = ""
            continue
        checked = _check(definition, text, owner_ids)
        if isinstance(checked, ValueProblem):
            problems.append(checked)
        else:
            values[name] = checked
    if problems:
        raise invalid_values(problems)
    return values
