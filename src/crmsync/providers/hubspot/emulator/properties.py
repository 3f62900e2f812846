"""Contact property and property-group definitions: HubSpot's standard ones plus custom ones.

A connector creates its custom properties through the properties API, so creation is validated
the way HubSpot validates it (name format, known group, type/fieldType, 409 on an existing name).
Updates change a custom property's presentation (label, description, group, order, options);
HubSpot-defined definitions are read-only, and a change of type is refused rather than faked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from crmsync.providers.hubspot.emulator.errors import HubSpotError, validation_error

PROPERTY_TYPES = frozenset(
    {"string", "number", "date", "datetime", "enumeration", "bool", "phone_number"}
)
FIELD_TYPES = frozenset(
    {
        "text",
        "textarea",
        "number",
        "date",
        "file",
        "select",
        "radio",
        "checkbox",
        "booleancheckbox",
        "calculation_equation",
        "phonenumber",
        "html",
    }
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
READ_ONLY = frozenset({"hs_object_id", "lastmodifieddate", "hs_merged_object_ids"})
ALWAYS_RETURNED = ("createdate", "hs_object_id", "lastmodifieddate")
DEFAULT_RETURNED = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)


@dataclass(frozen=True)
class PropertyOption:
    label: str
    value: str
    display_order: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "displayOrder": self.display_order,
            "hidden": False,
        }


@dataclass(frozen=True)
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    created_at: str
    description: str = ""
    has_unique_value: bool = False
    hubspot_defined: bool = False
    read_only: bool = False
    form_field: bool = True
    display_order: int = -1
    options: tuple[PropertyOption, ...] = ()
    external_options: bool = False
    referenced_object_type: str | None = None
    updated_at: str | None = None
    archived_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [option.as_json() for option in self.options],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": self.form_field,
            "dataSensitivity": "non_sensitive",
            "createdAt": self.created_at,
            "updatedAt": self.updated_at or self.created_at,
            "archived": self.archived_at is not None,
        }
        if self.archived_at is not None:
            body["archivedAt"] = self.archived_at
        if self.hubspot_defined:
            body["hubspotDefined"] = True
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        return body


@dataclass(frozen=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": False,
        }


STANDARD_GROUPS = (
    PropertyGroup("contactinformation", "Contact information", 0),
    PropertyGroup("emailinformation", "Email information", 1),
    PropertyGroup("sales_properties", "Sales properties", 2),
)

_LIFECYCLE = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)

_LIFECYCLE_OPTIONS = tuple(PropertyOption(v.title(), v, i) for i, v in enumerate(_LIFECYCLE))

# (name, label, type, fieldType)
_TEXT_PROPERTIES = (
    ("email", "Email", "string", "text"),
    ("firstname", "First Name", "string", "text"),
    ("lastname", "Last Name", "string", "text"),
    ("phone", "Phone Number", "string", "phonenumber"),
    ("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
    ("company", "Company Name", "string", "text"),
    ("jobtitle", "Job Title", "string", "text"),
    ("address", "Street Address", "string", "text"),
    ("city", "City", "string", "text"),
    ("state", "State/Region", "string", "text"),
    ("zip", "Postal Code", "string", "text"),
    ("country", "Country/Region", "string", "text"),
    ("website", "Website URL", "string", "text"),
)


def standard_properties(created_at: str) -> list[PropertyDef]:
    """HubSpot's default contact properties that connectors read or write."""
    defs = [
        PropertyDef(
            name, label, kind, field_type, "contactinformation", created_at, hubspot_defined=True
        )
        for name, label, kind, field_type in _TEXT_PROPERTIES
    ]
    defs += [
        PropertyDef(
            "hubspot_owner_id",
            "Contact owner",
            "enumeration",
            "select",
            "sales_properties",
            created_at,
            hubspot_defined=True,
            external_options=True,
            referenced_object_type="OWNER",
        ),
        PropertyDef(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            "contactinformation",
            created_at,
            hubspot_defined=True,
            options=_LIFECYCLE_OPTIONS,
        ),
        PropertyDef(
            "createdate",
            "Create Date",
            "datetime",
            "date",
            "contactinformation",
            created_at,
            hubspot_defined=True,
            form_field=False,
        ),
        PropertyDef(
            "lastmodifieddate",
            "Last Modified Date",
            "datetime",
            "date",
            "contactinformation",
            created_at,
            hubspot_defined=True,
            read_only=True,
            form_field=False,
        ),
        PropertyDef(
            "hs_merged_object_ids",
            "Merged Record IDs",
            "enumeration",
            "checkbox",
            "contactinformation",
            created_at,
            hubspot_defined=True,
            read_only=True,
            form_field=False,
            external_options=True,
        ),
        PropertyDef(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            "contactinformation",
            created_at,
            hubspot_defined=True,
            read_only=True,
            form_field=False,
        ),
    ]
    return defs


def _text(body: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise validation_error(f"Invalid input JSON: '{key}' is required and must be a string")
    return value


def _options(raw: object) -> tuple[PropertyOption, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(o, dict) and isinstance(o.get("value"), str) for o in raw
    ):
        raise validation_error("Invalid input JSON: options must be a list of {label, value}")
    return tuple(
        PropertyOption(str(o.get("label") or o["value"]), o["value"], int(o.get("displayOrder", i)))
        for i, o in enumerate(raw)
    )


def parse_property_create(
    body: Mapping[str, Any],
    *,
    existing: Mapping[str, PropertyDef],
    groups: Mapping[str, PropertyGroup],
    created_at: str,
) -> PropertyDef:
    """A new custom property from a ``POST /crm/v3/properties/contacts`` body, or HubSpotError."""
    name = _text(body, "name")
    label = _text(body, "label")
    group_name = _text(body, "groupName")
    kind = _text(body, "type")
    field_type = _text(body, "fieldType")
    if name in existing:
        raise HubSpotError(409, f"Property named '{name}' already exists.", "CONFLICT")
    if not _NAME.match(name):
        raise validation_error(
            f"Property name '{name}' is invalid: use lowercase letters, digits and underscores, "
            "starting with a letter"
        )
    if kind not in PROPERTY_TYPES:
        raise validation_error(f"Unable to process JSON: '{kind}' is not a valid property type")
    if field_type not in FIELD_TYPES:
        raise validation_error(f"Unable to process JSON: '{field_type}' is not a valid fieldType")
    if group_name not in groups:
        raise validation_error(f"group '{group_name}' does not exist.")
    options = _options(body.get("options"))
    if kind == "enumeration" and not options:
        raise validation_error("Enumeration properties must have at least one option.")
    if kind == "bool" and not options:
        options = (PropertyOption("Yes", "true", 0), PropertyOption("No", "false", 1))
    unique = bool(body.get("hasUniqueValue", False))
    if unique and kind not in ("string", "number"):
        raise validation_error("Only string and number properties can have unique values.")
    return PropertyDef(
        name=name,
        label=label,
        type=kind,
        field_type=field_type,
        group_name=group_name,
        created_at=created_at,
        description=_text(body, "description", required=False),
        has_unique_value=unique,
        form_field=bool(body.get("formField", False)),
        display_order=int(body.get("displayOrder", -1)),
        options=options,
    )


def parse_group_create(body: Mapping[str, Any], *, existing: Sequence[str]) -> PropertyGroup:
    name = _text(body, "name")
    label = _text(body, "label")
    if name in existing:
        raise HubSpotError(409, f"A property group named '{name}' already exists.", "CONFLICT")
    if not re.match(r"^[a-z0-9_\-]+$", name):
        raise validation_error(f"Property group name '{name}' is invalid.")
    order = body.get("displayOrder", -1)
    return PropertyGroup(name, label, order if isinstance(order, int) else -1)


UPDATABLE = frozenset(
    {"label", "description", "groupName", "displayOrder", "formField", "options", "hidden"}
)


def parse_property_update(
    definition: PropertyDef,
    body: Mapping[str, Any],
    *,
    groups: Mapping[str, PropertyGroup],
    updated_at: str,
) -> PropertyDef:
    """``definition`` after a ``PATCH /crm/v3/properties/contacts/{name}``, or HubSpotError."""
    if definition.hubspot_defined:
        raise validation_error(
            f"Unable to update property {definition.name}: it is a HubSpot defined property "
            "with a read-only definition"
        )
    unknown = sorted(set(body) - UPDATABLE - {"type", "fieldType"})
    if unknown:
        raise validation_error(f"Invalid input JSON: unrecognized field '{unknown[0]}'")
    for key, current in (("type", definition.type), ("fieldType", definition.field_type)):
        if key in body and body[key] != current:
            raise validation_error(
                f"Changing the {key} of property {definition.name} from {current!r} is not "
                "supported by this emulator"
            )
    group_name = _text(body, "groupName") if "groupName" in body else definition.group_name
    if group_name not in groups:
        raise validation_error(f"group '{group_name}' does not exist.")
    options = _options(body["options"]) if "options" in body else definition.options
    if definition.type == "enumeration" and not options:
        raise validation_error("Enumeration properties must have at least one option.")
    if body.get("hidden"):
        raise validation_error("Hidden properties are not supported by this emulator")
    return replace(
        definition,
        label=_text(body, "label") if "label" in body else definition.label,
        description=(
            _text(body, "description", required=False)
            if "description" in body
            else definition.description
        ),
        group_name=group_name,
        display_order=int(body.get("displayOrder", definition.display_order)),
        form_field=bool(body.get("formField", definition.form_field)),
        options=options,
        updated_at=updated_at,
    )


def parse_group_update(group: PropertyGroup, body: Mapping[str, Any]) -> PropertyGroup:
    unknown = sorted(set(body) - {"label", "displayOrder"})
    if unknown:
        raise validation_error(f"Invalid input JSON: unrecognized field '{unknown[0]}'")
    order = body.get("displayOrder", group.display_order)
    return replace(
        group,
        label=_text(body, "label") if "label" in body else group.label,
        display_order=order if isinstance(order, int) else group.display_order,
    )
