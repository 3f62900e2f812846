"""Close's read half: a Contact as the mapping's field names, contacts by id, and the field
catalogue; the change feed is ``changes.py``.

Only the Contact is read back: ``contact.*`` and its custom fields. ``lead.*`` fields (the
company and its address) live on the Lead, which crmsync writes once when it creates it and
never again (users rename and merge leads in Close): reading them back would report drift
crmsync never corrects, so they are left out of what is read (the engine then knows nothing of
them, and compares nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.domain.records import FieldDescription, FieldKind, RemoteRecord
from crmsync.providers.close import mapping
from crmsync.providers.close.client import CloseClient

CONTACT_LISTS = {"contact.emails": "email", "contact.phones": "phone"}
STANDARD = (
    FieldDescription(mapping.FIRST_NAME, "First name (in the Contact's name)", FieldKind.STRING),
    FieldDescription(mapping.LAST_NAME, "Last name (in the Contact's name)", FieldKind.STRING),
    FieldDescription("contact.title", "Title", FieldKind.STRING),
    FieldDescription("contact.emails", "Emails", FieldKind.OTHER),
    FieldDescription("contact.phones", "Phones", FieldKind.OTHER),
    FieldDescription("contact.urls", "URLs", FieldKind.OTHER),
    FieldDescription(mapping.LEAD_NAME, "Lead name (written at create)", FieldKind.STRING),
    *(
        FieldDescription(name, f"Lead address {key} (written at create)", FieldKind.STRING)
        for name, key in mapping.ADDRESS_FIELDS.items()
    ),
)
"""Close's own Contact and Lead fields, by the mapping's names."""
KINDS = {
    "text": FieldKind.STRING,
    "hidden": FieldKind.STRING,
    "number": FieldKind.NUMBER,
    "date": FieldKind.DATE,
    "datetime": FieldKind.DATETIME,
    "user": FieldKind.REFERENCE,
}


def readable(fields: Sequence[str]) -> list[str]:
    """The fields asked for that live on the Contact."""
    return [f for f in fields if not f.startswith("lead.")]


def value(contact: Mapping[str, Any], name: str, field_ids: Mapping[str, str]) -> Any:
    """One field of a Contact's JSON by the mapping's name; None when unset."""
    if name in (mapping.FIRST_NAME, mapping.LAST_NAME):
        first, last = mapping.name_parts(contact.get("name"))
        return first if name == mapping.FIRST_NAME else last
    if name in CONTACT_LISTS:
        key = CONTACT_LISTS[name]
        items = [str(e[key]) for e in contact.get(name.removeprefix("contact.")) or []]
        return items or None
    if name == "contact.urls":
        urls = [str(u["url"]) for u in contact.get("urls") or []]
        return urls[0] if len(urls) == 1 else (urls or None)
    if name == "contact.title":
        return contact.get("title") or None
    if name.startswith(mapping.CUSTOM_PREFIX):
        custom = name.removeprefix(mapping.CUSTOM_PREFIX)
        found = contact.get(f"custom.{field_ids.get(custom, custom)}")
        return None if found in ("", []) else found
    return None


def remote_record(
    contact: Mapping[str, Any], fields: Sequence[str], field_ids: Mapping[str, str]
) -> RemoteRecord:
    return RemoteRecord(
        crm_id=str(contact["id"]),
        fields={name: value(contact, name, field_ids) for name in readable(fields)},
        modified_at=str(contact.get("date_updated") or "") or None,
    )


def changed_fields(close_fields: Sequence[str], field_ids: Mapping[str, str]) -> frozenset[str]:
    """Close's ``changed_fields`` of a contact event as the mapping's names."""
    names = {f"custom.{cf}": f"{mapping.CUSTOM_PREFIX}{name}" for name, cf in field_ids.items()}
    found: set[str] = set()
    for changed in close_fields:
        if changed == "name":
            found |= {mapping.FIRST_NAME, mapping.LAST_NAME}
        elif changed in ("title", "emails", "phones", "urls"):
            found.add(f"contact.{changed}")
        elif changed in names:
            found.add(names[changed])
    return frozenset(found)


async def read(
    client: CloseClient, ids: Sequence[str], fields: Sequence[str], field_ids: Mapping[str, str]
) -> list[RemoteRecord]:
    """Close reads contacts one id at a time; an id Close no longer has is left out."""
    found: list[RemoteRecord] = []
    for crm_id in dict.fromkeys(ids):
        contact = await client.contact(crm_id)
        if contact is not None:
            found.append(remote_record(contact, fields, field_ids))
    return found


def describe(custom: Sequence[Mapping[str, Any]]) -> list[FieldDescription]:
    """The standard fields and the Contact's custom fields (``custom.<name>``)."""
    described = list(STANDARD)
    for definition in custom:
        kind = KINDS.get(str(definition.get("type")), FieldKind.OTHER)
        choices = tuple(str(c) for c in definition.get("choices") or [])
        if definition.get("type") == "choices":
            multi = bool(definition.get("accepts_multiple_values"))
            kind = FieldKind.MULTI_PICKLIST if multi else FieldKind.PICKLIST
        name = str(definition["name"])
        described.append(
            FieldDescription(
                name=mapping.CUSTOM_PREFIX + name,
                label=name,
                kind=kind,
                custom=True,
                options=choices,
            )
        )
    return described
