"""HighLevel's read half: contacts by id, their values under the mappings' field names, and
the location's field catalogue; the change feed is ``changes.py``.

Mapping keys are HighLevel's names: contact attributes (``firstName``, ``assignedTo``) or a
custom field's ``fieldKey`` (``contact.acme_person_id``), whose values a contact lists by the
field's id. An unset attribute is absent from HighLevel's JSON; an empty one is read as None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.domain.records import FieldDescription, FieldKind, RemoteRecord
from crmsync.providers.highlevel.client import HighLevelClient
from crmsync.providers.highlevel.mapping import CUSTOM_PREFIX

MODIFIED = "dateUpdated"
STANDARD: tuple[tuple[str, str, FieldKind], ...] = (
    ("firstName", "First Name", FieldKind.STRING),
    ("lastName", "Last Name", FieldKind.STRING),
    ("email", "Email", FieldKind.STRING),
    ("phone", "Phone", FieldKind.STRING),
    ("companyName", "Business Name", FieldKind.STRING),
    ("address1", "Street Address", FieldKind.STRING),
    ("city", "City", FieldKind.STRING),
    ("state", "State", FieldKind.STRING),
    ("postalCode", "Postal Code", FieldKind.STRING),
    ("country", "Country", FieldKind.STRING),
    ("website", "Website", FieldKind.STRING),
    ("timezone", "Time Zone", FieldKind.STRING),
    ("source", "Source", FieldKind.STRING),
    ("dateOfBirth", "Date of Birth", FieldKind.DATE),
    ("dnd", "Do Not Disturb", FieldKind.BOOLEAN),
    ("tags", "Tags", FieldKind.MULTI_PICKLIST),
    ("assignedTo", "Assigned User", FieldKind.REFERENCE),
)
"""The contact attributes of HighLevel's contact schema that crmsync can map."""
READ_ONLY = (("dateAdded", "Created"), ("dateUpdated", "Updated"))
KINDS = {
    "TEXT": FieldKind.STRING,
    "LARGE_TEXT": FieldKind.STRING,
    "PHONE": FieldKind.STRING,
    "NUMERICAL": FieldKind.NUMBER,
    "MONETORY": FieldKind.NUMBER,
    "FLOAT": FieldKind.NUMBER,
    "CHECKBOX": FieldKind.MULTI_PICKLIST,
    "MULTIPLE_OPTIONS": FieldKind.MULTI_PICKLIST,
    "SINGLE_OPTIONS": FieldKind.PICKLIST,
    "RADIO": FieldKind.PICKLIST,
    "DATE": FieldKind.DATE,
}
"""A custom field's ``dataType`` → kind (the others: files, signatures, ...: other)."""


def values(
    contact: Mapping[str, Any], fields: Sequence[str], field_ids: Mapping[str, str]
) -> dict[str, Any]:
    """``fields`` (mapping names) → the contact's values; ``field_ids`` maps each custom
    ``fieldKey`` to its id in the location."""
    custom = {str(c.get("id")): c.get("value") for c in contact.get("customFields") or []}
    found: dict[str, Any] = {}
    for name in fields:
        if name.startswith(CUSTOM_PREFIX):
            value = custom.get(field_ids.get(name, ""))
        else:
            value = contact.get(name)
        found[name] = None if value in (None, "", []) else value
    return found


def remote_record(
    contact: Mapping[str, Any], fields: Sequence[str], field_ids: Mapping[str, str]
) -> RemoteRecord:
    stamp = contact.get(MODIFIED)
    return RemoteRecord(
        crm_id=str(contact["id"]),
        fields=values(contact, fields, field_ids),
        modified_at=str(stamp) if stamp else None,
        archived=bool(contact.get("deleted")),
    )


async def read(
    client: HighLevelClient,
    ids: Sequence[str],
    fields: Sequence[str],
    field_ids: Mapping[str, str],
) -> list[RemoteRecord]:
    """One ``GET /contacts/{id}`` each: reads by id are current (search may trail), and
    HighLevel has no batch read."""
    found: list[RemoteRecord] = []
    for crm_id in dict.fromkeys(ids):
        contact = await client.contact(crm_id)
        if contact is not None:
            found.append(remote_record(contact, fields, field_ids))
    return found


def describe(custom_fields: Sequence[Mapping[str, Any]]) -> list[FieldDescription]:
    described = [FieldDescription(name, label, kind) for name, label, kind in STANDARD]
    described += [
        FieldDescription(name, label, FieldKind.DATETIME, read_only=True)
        for name, label in READ_ONLY
    ]
    for f in custom_fields:
        if f.get("model", "contact") != "contact" or not f.get("fieldKey"):
            continue
        kind = KINDS.get(str(f.get("dataType")), FieldKind.OTHER)
        options = f.get("picklistOptions") or []
        described.append(
            FieldDescription(
                name=str(f["fieldKey"]),
                label=str(f.get("name") or f["fieldKey"]),
                kind=kind,
                custom=True,
                options=tuple(str(o) for o in options if isinstance(o, str)),
            )
        )
    return described
