"""Stored Close objects (organisations, users, custom fields, leads, contacts) and their JSON.

Ids look like Close's (``lead_`` + 43 characters); timestamps are ISO 8601 with microseconds.
Custom field values are keyed by field id and rendered as ``"custom.cf_…": value``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(43))


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def select(body: dict[str, Any], fields: Iterable[str] | None) -> dict[str, Any]:
    """Close's ``_fields``: only the keys asked for (all when None)."""
    if fields is None:
        return body
    return {name: body.get(name) for name in fields}


@dataclass
class Organization:
    id: str
    name: str
    date_created: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "date_created": self.date_created}


@dataclass
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    date_created: str
    organizations: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "image": None,
            "date_created": self.date_created,
            "date_updated": self.date_created,
        }


@dataclass
class CustomField:
    id: str
    organization_id: str
    name: str
    type: str
    accepts_multiple_values: bool
    choices: list[str]
    description: str
    editable_with_roles: list[str]
    date_created: str
    created_by: str

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "organization_id": self.organization_id,
            "name": self.name,
            "type": self.type,
            "accepts_multiple_values": self.accepts_multiple_values,
            "description": self.description,
            "editable_with_roles": list(self.editable_with_roles),
            "date_created": self.date_created,
            "date_updated": self.date_created,
            "created_by": self.created_by,
            "updated_by": self.created_by,
        }
        if self.type == "choices":
            body["choices"] = list(self.choices)
        return body


@dataclass
class Contact:
    id: str
    organization_id: str
    lead_id: str
    date_created: str
    created_by: str
    name: str | None = None
    title: str | None = None
    emails: list[dict[str, str]] = field(default_factory=list)
    phones: list[dict[str, str]] = field(default_factory=list)
    urls: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    date_updated: str = ""
    updated_by: str = ""

    def regular(self, name: str) -> Any:
        """A standard field's value, as the search API compares it."""
        if name in ("emails", "email"):
            return [e["email"] for e in self.emails]
        if name in ("phones", "phone"):
            return [p["phone"] for p in self.phones]
        if name in ("urls", "url"):
            return [u["url"] for u in self.urls]
        return getattr(self, name, None)

    def as_json(self, fields: Mapping[str, CustomField]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "organization_id": self.organization_id,
            "lead_id": self.lead_id,
            "name": self.name or "",
            "display_name": self.name or (self.emails[0]["email"] if self.emails else ""),
            "title": self.title or "",
            "emails": [dict(e) for e in self.emails],
            "phones": [dict(p) for p in self.phones],
            "urls": [dict(u) for u in self.urls],
            "date_created": self.date_created,
            "date_updated": self.date_updated or self.date_created,
            "created_by": self.created_by,
            "updated_by": self.updated_by or self.created_by,
        }
        by_name: dict[str, Any] = {}
        for field_id, value in sorted(self.custom.items()):
            body[f"custom.{field_id}"] = value
            if field_id in fields:
                by_name[fields[field_id].name] = value
        body["custom"] = by_name
        return body


@dataclass
class Lead:
    id: str
    organization_id: str
    date_created: str
    created_by: str
    name: str | None = None
    description: str = ""
    url: str | None = None
    addresses: list[dict[str, Any]] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    date_updated: str = ""
    updated_by: str = ""

    def regular(self, name: str) -> Any:
        return getattr(self, name, None)

    def as_json(self, contacts: Iterable[dict[str, Any]]) -> dict[str, Any]:
        contacts = list(contacts)
        fallback = contacts[0]["display_name"] if contacts else ""
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "name": self.name or "",
            "display_name": self.name or fallback,
            "description": self.description,
            "url": self.url,
            "status_id": "stat_potential",
            "status_label": "Potential",
            "addresses": [dict(a) for a in self.addresses],
            "contacts": contacts,
            "opportunities": [],
            "tasks": [],
            "custom": {},
            "date_created": self.date_created,
            "date_updated": self.date_updated or self.date_created,
            "created_by": self.created_by,
            "updated_by": self.updated_by or self.created_by,
        }
