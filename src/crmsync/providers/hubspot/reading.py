"""HubSpot's read half: contacts by id (batch read) and the contact property catalogue; the
change feed is ``changes.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmsync.domain.records import (
    FieldDescription,
    FieldKind,
    RemoteRecord,
)
from crmsync.providers.hubspot.client import HubSpotClient

BATCH_READ = 100
MODIFIED = "lastmodifieddate"
KINDS = {
    "string": FieldKind.STRING,
    "number": FieldKind.NUMBER,
    "bool": FieldKind.BOOLEAN,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "phone_number": FieldKind.STRING,
}
"""HubSpot property ``type`` → kind; an ``enumeration`` is told apart by its ``fieldType``."""


def remote_record(contact: dict[str, Any], fields: Sequence[str]) -> RemoteRecord:
    """HubSpot returns every value as a string, and an unset one as null or ``""``."""
    properties = contact.get("properties") or {}
    return RemoteRecord(
        crm_id=str(contact["id"]),
        fields={name: properties.get(name) or None for name in fields},
        modified_at=properties.get(MODIFIED) or contact.get("updatedAt"),
        archived=bool(contact.get("archived")),
    )


async def read(
    client: HubSpotClient, ids: Sequence[str], fields: Sequence[str]
) -> list[RemoteRecord]:
    found: list[RemoteRecord] = []
    for start in range(0, len(ids), BATCH_READ):
        chunk = list(ids[start : start + BATCH_READ])
        found += [remote_record(c, fields) for c in await client.batch_read(chunk, list(fields))]
    return found


def describe(properties: list[dict[str, Any]]) -> list[FieldDescription]:
    described: list[FieldDescription] = []
    for p in properties:
        options = tuple(str(o.get("value")) for o in p.get("options") or [])
        if p.get("type") == "enumeration":
            multi = p.get("fieldType") == "checkbox"
            kind = FieldKind.MULTI_PICKLIST if multi else FieldKind.PICKLIST
            if p.get("referencedObjectType") == "OWNER":
                kind = FieldKind.REFERENCE
        else:
            kind = KINDS.get(str(p.get("type")), FieldKind.OTHER)
        calculated = p.get("calculated") or (p.get("modificationMetadata") or {}).get(
            "readOnlyValue"
        )
        described.append(
            FieldDescription(
                name=str(p["name"]),
                label=str(p.get("label") or p["name"]),
                kind=kind,
                custom=not p.get("hubspotDefined"),
                read_only=bool(calculated),
                options=() if kind is FieldKind.REFERENCE else options,
            )
        )
    return described
