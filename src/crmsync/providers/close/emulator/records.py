"""Stored Close objects (organisations, users, lead statuses, custom fields, leads, contacts,
activities) and their JSON.

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
class LeadStatus:
    id: str
    organization_id: str
    label: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "label": self.label,
            "color": None,
        }


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

    def membership_json(self, org_id: str) -> dict[str, Any]:
        """As ``GET /organization/{id}/`` lists members: user data prefixed with ``user_``."""
        return {
            "id": "memb_" + self.id.removeprefix("user_"),
            "organization_id": org_id,
            "user_id": self.id,
            "user_email": self.email,
            "user_first_name": self.first_name,
            "user_last_name": self.last_name,
            "user_full_name": f"{self.first_name} {self.last_name}".strip(),
            "role_id": "admin",
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


def custom_json(
    values: Mapping[str, Any], fields: Mapping[str, CustomField]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``custom.cf_…`` keys, and the deprecated ``custom`` dict keyed by field name."""
    by_id: dict[str, Any] = {}
    by_name: dict[str, Any] = {}
    for field_id, value in sorted(values.items()):
        by_id[f"custom.{field_id}"] = value
        if field_id in fields:
            by_name[fields[field_id].name] = value
    return by_id, by_name


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
        by_id, by_name = custom_json(self.custom, fields)
        body.update(by_id)
        body["custom"] = by_name
        return body


@dataclass
class Lead:
    id: str
    organization_id: str
    date_created: str
    created_by: str
    status_id: str
    status_label: str
    name: str | None = None
    description: str = ""
    url: str | None = None
    addresses: list[dict[str, Any]] = field(default_factory=list)
    contact_ids: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    date_updated: str = ""
    updated_by: str = ""

    def regular(self, name: str) -> Any:
        return getattr(self, name, None)

    def as_json(
        self, contacts: Iterable[dict[str, Any]], fields: Mapping[str, CustomField]
    ) -> dict[str, Any]:
        contacts = list(contacts)
        fallback = contacts[0]["display_name"] if contacts else ""
        by_id, by_name = custom_json(self.custom, fields)
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "name": self.name or "",
            "display_name": self.name or fallback,
            "description": self.description,
            "url": self.url,
            "status_id": self.status_id,
            "status_label": self.status_label,
            "addresses": [dict(a) for a in self.addresses],
            "contacts": contacts,
            "opportunities": [],
            "tasks": [],
            **by_id,
            "custom": by_name,
            "date_created": self.date_created,
            "date_updated": self.date_updated or self.date_created,
            "created_by": self.created_by,
            "updated_by": self.updated_by or self.created_by,
        }


@dataclass
class Activity:
    """Close logs a ``Created`` activity for every new lead; the emulator logs no other kind.
    Fields beyond the ids, ``_type`` and the dates are unconfirmed."""

    id: str
    organization_id: str
    lead_id: str
    type: str
    user_id: str
    date_created: str
    contact_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "_type": self.type,
            "id": self.id,
            "organization_id": self.organization_id,
            "lead_id": self.lead_id,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
            "created_by": self.user_id,
            "updated_by": self.user_id,
            "date_created": self.date_created,
            "date_updated": self.date_created,
            "activity_at": self.date_created,
            "source": "api",
        }
