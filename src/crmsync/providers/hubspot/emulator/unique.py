"""The portal's unique values: which contact holds each value of ``email`` and of every
property made with ``hasUniqueValue``, so that a conflict, or an ``idProperty`` lookup, costs
one dictionary read however many contacts a soak test creates. The store calls it under its
lock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from crmsync.providers.hubspot.emulator.errors import unique_conflict
from crmsync.providers.hubspot.emulator.records import StoredContact


class UniqueValues:
    """Per unique property, value → id of the live contact holding it."""

    def __init__(self) -> None:
        self._holders: dict[str, dict[str, str]] = {"email": {}}

    def names(self) -> list[str]:
        return list(self._holders)

    def __contains__(self, prop: object) -> bool:
        return prop in self._holders

    def holder(self, prop: str, value: str) -> str | None:
        """The contact holding ``value`` of the unique property ``prop``, if any."""
        return self._holders.get(prop, {}).get(value)

    def add_property(self, prop: str, contacts: Iterable[StoredContact]) -> None:
        """A property made unique: the live contacts' values are indexed at once."""
        self._holders[prop] = {c.properties[prop]: c.id for c in contacts if prop in c.properties}

    def drop_property(self, prop: str) -> None:
        self._holders.pop(prop, None)

    def check(self, values: Mapping[str, str], contact_id: str | None) -> None:
        """409 when another contact than ``contact_id`` holds one of the unique ``values``."""
        for prop, value in values.items():
            holder = self.holder(prop, value) if value else None
            if holder is not None and holder != contact_id:
                raise unique_conflict(prop, value, holder)

    def held_by(self, contact: StoredContact) -> dict[str, str]:
        """The contact's values of the unique properties."""
        return {p: v for p, v in contact.properties.items() if p in self._holders}

    def changed(self, contact_id: str, prop: str, old: str | None, new: str | None) -> None:
        """One property of a contact went from ``old`` to ``new`` (None or empty: unset)."""
        index = self._holders.get(prop)
        if index is None:
            return
        if old is not None:
            index.pop(old, None)
        if new:
            index[new] = contact_id

    def claim(self, contact: StoredContact) -> None:
        """A contact back among the live ones (a restore) holds its values again."""
        for prop, index in self._holders.items():
            value = contact.properties.get(prop)
            if value is not None:
                index[value] = contact.id

    def release(self, contact: StoredContact) -> None:
        """A contact leaves the live ones (archived, merged away): its values are free."""
        for prop, index in self._holders.items():
            value = contact.properties.get(prop)
            if value is not None and index.get(value) == contact.id:
                del index[value]
