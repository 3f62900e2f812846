"""Stored contacts and owners, and their JSON as HubSpot's API returns them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from crmsync.providers.hubspot.emulator.history import History, history_json
from crmsync.providers.hubspot.emulator.properties import ALWAYS_RETURNED, DEFAULT_RETURNED


@dataclass
class StoredContact:
    """One contact: property values are strings; a property without a value is absent."""

    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: str | None = None
    history: History = field(default_factory=dict)

    def as_json(
        self, names: Iterable[str] | None = None, with_history: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """The API view. ``names`` None: HubSpot's default properties; otherwise the ones asked
        for (null when unset) plus the three HubSpot always returns. ``with_history`` adds
        ``propertiesWithHistory`` for those names."""
        wanted = DEFAULT_RETURNED if names is None else (*ALWAYS_RETURNED, *names)
        body: dict[str, Any] = {
            "id": self.id,
            "properties": {name: self.properties.get(name) for name in sorted(set(wanted))},
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }
        if self.archived_at:
            body["archivedAt"] = self.archived_at
        if with_history:
            body["propertiesWithHistory"] = history_json(self.history, list(with_history))
        return body

    def copy(self) -> StoredContact:
        """A snapshot that later writes will not change (taken under the store's lock)."""
        return replace(self, properties=dict(self.properties), history=dict(self.history))

    def full_json(self) -> dict[str, Any]:
        """Every stored property, for the emulator's own inspection routes."""
        return self.as_json(self.properties)


@dataclass
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: str
    updated_at: str
    archived: bool = False
    teams: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
            "teams": list(self.teams),
        }


def id_order(contact: StoredContact) -> int:
    return int(contact.id)


def matches(contact: StoredContact, wanted: Mapping[str, str | None]) -> bool:
    for prop, value in wanted.items():
        have = contact.properties.get(prop)
        if prop == "email" and value is not None:
            value = value.strip().lower()
        if have != value:
            return False
    return True


def split_ids(value: str | None) -> list[str]:
    return [part for part in (value or "").split(";") if part]
