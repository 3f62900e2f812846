"""Stored locations, users, custom fields and contacts, and their JSON as the API returns it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

STRING_ATTRIBUTES = (
    "firstName",
    "lastName",
    "email",
    "phone",
    "companyName",
    "address1",
    "city",
    "state",
    "postalCode",
    "country",
    "website",
    "timezone",
    "source",
    "gender",
)
"""Contact attributes held as text (``name`` is derived from first and last name)."""


@dataclass
class Location:
    id: str
    company_id: str
    name: str
    city: str
    state: str
    country: str
    email: str
    allow_duplicate_contact: bool = False
    """Settings → Business Profile → Contact Deduplication Preferences → Allow Duplicate
    Contact."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "companyId": self.company_id,
            "name": self.name,
            "city": self.city,
            "state": self.state,
            "country": self.country,
            "email": self.email,
            "timezone": "America/Chicago",
            "business": {"name": self.name, "city": self.city, "country": self.country},
            "settings": {
                "allowDuplicateContact": self.allow_duplicate_contact,
                "allowDuplicateOpportunity": False,
                "allowFacebookNameMerge": False,
                "disableContactTimezone": False,
            },
        }


@dataclass
class User:
    id: str
    company_id: str
    email: str
    first_name: str
    last_name: str
    location_ids: list[str]
    role: str = "admin"
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": f"{self.first_name} {self.last_name}".strip(),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "phone": "",
            "extension": "",
            "roles": {
                "type": "account",
                "role": self.role,
                "locationIds": list(self.location_ids),
                "restrictSubAccount": False,
            },
            "deleted": self.deleted,
        }


@dataclass
class CustomField:
    id: str
    location_id: str
    name: str
    field_key: str
    data_type: str
    model: str
    position: int
    placeholder: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "fieldKey": self.field_key,
            "placeholder": self.placeholder,
            "dataType": self.data_type,
            "position": self.position,
            "picklistOptions": [],
            "isAllowedCustomOption": False,
            "locationId": self.location_id,
            "model": self.model,
        }


@dataclass
class StoredContact:
    id: str
    location_id: str
    attributes: dict[str, str]
    custom: dict[str, str]
    """Custom field id → value."""
    date_added: str
    date_updated: str
    added_ms: int
    assigned_to: str | None = None
    tags: list[str] = field(default_factory=list)
    dnd: bool = False
    updated_ms: int = 0
    """``dateUpdated`` in epoch ms: what search sorts and ranges on."""
    deleted: bool = False
    """Deleted in HighLevel: kept (restorable), gone from gets and from searches that do not
    ask for ``deleted``."""

    @property
    def name(self) -> str:
        first, last = self.attributes.get("firstName", ""), self.attributes.get("lastName", "")
        return f"{first} {last}".strip()

    def copy(self) -> StoredContact:
        return replace(
            self, attributes=dict(self.attributes), custom=dict(self.custom), tags=list(self.tags)
        )

    def as_json(self) -> dict[str, Any]:
        """As GET /contacts/{id} answers: unset attributes are absent, not null."""
        body: dict[str, Any] = {"id": self.id, "locationId": self.location_id}
        body.update(self.attributes)
        if self.name:
            body["name"] = self.name
            body["fullNameLowerCase"] = self.name.lower()
        for source, lower in (
            ("firstName", "firstNameLowerCase"),
            ("lastName", "lastNameLowerCase"),
            ("email", "emailLowerCase"),
        ):
            if source in self.attributes:
                body[lower] = self.attributes[source].lower()
        if self.assigned_to:
            body["assignedTo"] = self.assigned_to
        body.update(
            {
                "type": "lead",
                "dnd": self.dnd,
                "tags": list(self.tags),
                "customFields": [{"id": k, "value": v} for k, v in sorted(self.custom.items())],
                "dateAdded": self.date_added,
                "dateUpdated": self.date_updated,
            }
        )
        return body

    def search_json(self, cursor: tuple[Any, str]) -> dict[str, Any]:
        """A search hit carries its own ``searchAfter`` cursor (its sort value and id)."""
        body = {**self.as_json(), "searchAfter": list(cursor)}
        if self.deleted:
            body["deleted"] = True
        return body


UNSET: Any = object()


@dataclass
class ContactInput:
    """A validated contact body: ``None`` clears an attribute, absent keys are left alone."""

    attributes: dict[str, str | None] = field(default_factory=dict)
    custom: dict[str, str] = field(default_factory=dict)
    assigned_to: Any = UNSET
    tags: list[str] | None = None
    dnd: bool | None = None
