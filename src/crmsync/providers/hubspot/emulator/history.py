"""Who wrote a value, and each value a property has had: what ``propertiesWithHistory``
answers and what webhooks call ``changeSource`` / ``sourceId``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INTEGRATION = "INTEGRATION"
CRM_UI = "CRM_UI"


@dataclass(frozen=True)
class Source:
    """The writer of a change: an installed app (``INTEGRATION``, its app id) or a user in
    HubSpot's own screens (``CRM_UI``, ``userId:<id>``)."""

    source_type: str
    source_id: str | None
    user_id: int | None = None

    @classmethod
    def app(cls, app_id: int) -> Source:
        return cls(INTEGRATION, str(app_id))

    @classmethod
    def user(cls, user_id: int) -> Source:
        return cls(CRM_UI, f"userId:{user_id}", user_id)


@dataclass(frozen=True)
class Version:
    """One value a property held from ``timestamp`` on (``""``: cleared)."""

    value: str
    timestamp: str
    source: Source

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "value": self.value,
            "timestamp": self.timestamp,
            "sourceType": self.source.source_type,
        }
        if self.source.source_id is not None:
            body["sourceId"] = self.source.source_id
        if self.source.user_id is not None:
            body["updatedByUserId"] = self.source.user_id
        return body


History = dict[str, tuple[Version, ...]]
"""Property name → its versions, oldest first (tuples, so a snapshot copies only the dict)."""


def history_json(history: History, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """HubSpot lists versions newest first; a property never set has an empty list."""
    return {name: [v.as_json() for v in reversed(history.get(name, ()))] for name in names}
