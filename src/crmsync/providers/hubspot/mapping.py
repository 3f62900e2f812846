"""Person → HubSpot contact: the default field mapping and the custom properties it needs."""

from __future__ import annotations

from typing import Any

from crmsync.connectors.base import AppNames
from crmsync.connectors.spec import FieldSpec
from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind


def person_id_property(app: AppNames) -> str:
    return f"{app.slug}_person_id"


def custom_properties(app: AppNames) -> list[dict[str, Any]]:
    """The contact properties crmsync creates, in the group named after the app."""
    return [
        {
            "name": person_id_property(app),
            "label": f"{app.label} Person ID",
            "type": "string",
            "fieldType": "text",
            "groupName": app.slug,
            "hasUniqueValue": True,
            "description": f"The person's ID in {app.label}; crmsync matches records by it.",
        },
        {
            "name": f"{app.slug}_profile_url",
            "label": f"{app.label} Profile URL",
            "type": "string",
            "fieldType": "text",
            "groupName": app.slug,
            "description": f"Link to the person's profile in {app.label}.",
        },
        {
            "name": f"{app.slug}_linkedin_url",
            "label": f"{app.label} LinkedIn URL",
            "type": "string",
            "fieldType": "text",
            "groupName": app.slug,
            "description": "The person's LinkedIn profile (HubSpot has no standard property).",
        },
    ]


def default_fields(app: AppNames) -> list[FieldSpec]:
    return [
        FieldSpec(
            "person_id",
            person_id_property(app),
            "custom",
            kind=ValueKind.KEY,
            identity=True,
            note="match key (unique)",
        ),
        FieldSpec("profile_url", f"{app.slug}_profile_url", "custom", identity=True),
        FieldSpec("first_name", "firstname", "standard"),
        FieldSpec("last_name", "lastname", "standard"),
        FieldSpec("email", "email", "standard", note="the person's first email"),
        FieldSpec("emails", None, "skipped", note="additional emails are read-only in the API"),
        FieldSpec("phone", "phone", "standard", note="the person's first phone"),
        FieldSpec("phones", None, "skipped", note="HubSpot keeps one phone per property"),
        FieldSpec("company", "company", "standard"),
        FieldSpec("title", "jobtitle", "standard"),
        FieldSpec("city", "city", "standard"),
        FieldSpec("state", "state", "standard"),
        FieldSpec("zip", "zip", "standard"),
        FieldSpec("country", "country", "standard"),
        FieldSpec("linkedin_url", f"{app.slug}_linkedin_url", "custom"),
        FieldSpec(
            "owner",
            "hubspot_owner_id",
            "standard",
            kind=ValueKind.USER,
            source_of_truth=System.CRM,
            note="matched by owner email",
        ),
    ]


def to_properties(fields: dict[str, Any], id_property: str) -> dict[str, str]:
    """HubSpot property values are strings; an empty string clears a property."""
    return {
        name: "" if value is None else str(value)
        for name, value in fields.items()
        if name != id_property
    }
