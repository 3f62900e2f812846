"""Which contacts hold each custom field value: (custom field id, value as text) → contact
ids. It lets a search by Person ID cost the size of the batch, not the size of the CRM. The
store keeps it under its lock, as it sets and clears custom values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crmsync.providers.close.emulator.records import Contact


class ValueIndex:
    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], set[str]] = {}

    def clear(self) -> None:
        self._ids.clear()

    def add(self, contact_id: str, field_id: str, value: Any) -> None:
        """``value`` is one value, a list (a multiple choice field) or None/"" (nothing)."""
        for key in _keys(field_id, value):
            self._ids.setdefault(key, set()).add(contact_id)

    def remove(self, contact_id: str, field_id: str, value: Any) -> None:
        for key in _keys(field_id, value):
            if key in self._ids:
                self._ids[key].discard(contact_id)

    def forget(self, contact: Contact) -> None:
        """A deleted contact holds none of its values any more."""
        for field_id, value in contact.custom.items():
            self.remove(contact.id, field_id, value)

    def holders(self, field_id: str, values: Iterable[str]) -> set[str]:
        """The ids of the contacts whose ``field_id`` holds any of ``values``."""
        return set().union(*(self._ids.get((field_id, v), set()) for v in values))


def _keys(field_id: str, value: Any) -> list[tuple[str, str]]:
    items = value if isinstance(value, list) else [value]
    return [(field_id, str(item)) for item in items if item not in (None, "")]
