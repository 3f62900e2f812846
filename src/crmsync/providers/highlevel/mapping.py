"""Person → HighLevel contact: the default field mapping and the custom fields it needs.

Mapping keys are HighLevel's own names: contact attributes (``firstName``) or, for custom
fields, their ``fieldKey`` (``contact.acme_person_id``). The connector turns the latter into
``customFields: [{id, field_value}]`` with the ids it read from the location.
"""

from __future__ import annotations

import re
from typing import Any

from crmsync.connectors.base import AppNames
from crmsync.connectors.spec import FieldSpec
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind

CUSTOM_PREFIX = "contact."
NOT_NULLABLE = frozenset({"postalCode", "country"})
"""Attributes the API does not accept ``null`` for: an empty string clears them."""


def field_key(name: str) -> str:
    """The ``fieldKey`` HighLevel derives from a custom field name: ``contact.acme_person_id``."""
    return CUSTOM_PREFIX + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def custom_fields(app: AppNames) -> dict[str, str]:
    """App field → name of the contact custom field crmsync creates for it."""
    return {
        "person_id": f"{app.label} Person ID",
        "profile_url": f"{app.label} Profile URL",
        "linkedin_url": f"{app.label} LinkedIn URL",
        # HighLevel contacts have no job title attribute.
        "title": f"{app.label} Job Title",
    }


def person_id_key(app: AppNames) -> str:
    return field_key(custom_fields(app)["person_id"])


def default_fields(app: AppNames) -> list[FieldSpec]:
    custom = {app_field: field_key(name) for app_field, name in custom_fields(app).items()}
    return [
        FieldSpec(
            "person_id",
            custom["person_id"],
            "custom",
            kind=ValueKind.KEY,
            identity=True,
            note="match key: searched by it",
        ),
        FieldSpec("profile_url", custom["profile_url"], "custom", identity=True),
        FieldSpec("first_name", "firstName", "standard"),
        FieldSpec("last_name", "lastName", "standard"),
        FieldSpec("email", "email", "standard", note="the person's first email"),
        FieldSpec("emails", None, "skipped", note="a contact has one email in the API"),
        FieldSpec("phone", "phone", "standard", note="the person's first phone"),
        FieldSpec("phones", None, "skipped", note="a contact has one phone in the API"),
        FieldSpec("company", "companyName", "standard"),
        FieldSpec("title", custom["title"], "custom", note="HighLevel has no job title field"),
        FieldSpec("city", "city", "standard"),
        FieldSpec("state", "state", "standard"),
        FieldSpec("zip", "postalCode", "standard"),
        FieldSpec("country", "country", "standard", note="HighLevel expects ISO codes (US)"),
        FieldSpec("linkedin_url", custom["linkedin_url"], "custom"),
        FieldSpec(
            "owner",
            "assignedTo",
            "standard",
            kind=ValueKind.USER,
            source_of_truth=System.CRM,
            note="the location user with that email",
        ),
    ]


def to_payload(
    fields: dict[str, Any], field_ids: dict[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """A contact body from mapped values, and the custom field keys the location lacks.

    ``None`` clears: ``null`` for nullable attributes, ``""`` for the others and custom fields.
    """
    payload: dict[str, Any] = {}
    custom: list[dict[str, str]] = []
    missing: list[str] = []
    for name, value in fields.items():
        if name.startswith(CUSTOM_PREFIX):
            if name not in field_ids:
                missing.append(name)
                continue
            custom.append(
                {"id": field_ids[name], "field_value": "" if value is None else str(value)}
            )
        elif value is None:
            payload[name] = "" if name in NOT_NULLABLE else None
        else:
            payload[name] = str(value)
    if custom:
        payload["customFields"] = custom
    return payload, missing
