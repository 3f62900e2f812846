"""Changes to contacts as the store makes them, for the webhooks to send: one per creation,
changed property, archive, restore and merge, with who made it."""

from __future__ import annotations

from dataclasses import dataclass

from crmsync.providers.hubspot.emulator.history import Source

CREATION = "contact.creation"
PROPERTY_CHANGE = "contact.propertyChange"
DELETION = "contact.deletion"
RESTORE = "contact.restore"
MERGE = "contact.merge"
EVENT_TYPES = (CREATION, PROPERTY_CHANGE, DELETION, RESTORE, MERGE)


@dataclass(frozen=True)
class ContactEvent:
    event_type: str
    object_id: str
    occurred_at: float
    """Epoch seconds on the emulator's clock."""
    source: Source
    property_name: str | None = None
    property_value: str | None = None
    merged_ids: tuple[str, ...] = ()
    """For a merge: the ids merged into ``object_id``, which survives."""
