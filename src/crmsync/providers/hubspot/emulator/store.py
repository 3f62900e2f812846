"""The portal's data: contacts, property definitions, groups and owners, behind one lock.

Unique values (email and ``hasUniqueValue`` properties) are indexed, so conflicts are found in
constant time however many contacts a soak test creates. Methods never await: they hold the lock
only for pure in-memory work.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from crmsync.providers.hubspot.emulator.errors import HubSpotError, not_found, validation_error
from crmsync.providers.hubspot.emulator.properties import (
    STANDARD_GROUPS,
    PropertyDef,
    PropertyGroup,
    parse_group_create,
    parse_group_update,
    parse_property_create,
    parse_property_update,
    standard_properties,
)
from crmsync.providers.hubspot.emulator.records import Owner, StoredContact
from crmsync.providers.hubspot.emulator.values import iso_timestamp, normalise

FIRST_CONTACT_ID = 100001
FIRST_OWNER_ID = 50000001
FIRST_USER_ID = 7000001
ID_PROPERTY = "hs_object_id"

Upserted = tuple[StoredContact, bool]


def _conflict(prop: str, value: str, existing_id: str) -> HubSpotError:
    if prop == "email":
        message = f"Contact already exists. Existing ID: {existing_id}"
    else:
        message = (
            f"A contact with the unique property {prop}={value!r} already exists. "
            f"Existing ID: {existing_id}"
        )
    return HubSpotError(409, message, "CONFLICT", context={"existingId": [existing_id]})


class CrmStore:
    def __init__(self, *, clock: Callable[[], float], admin_email: str) -> None:
        self.lock = threading.Lock()
        self._clock = clock
        self._admin_email = admin_email
        self.reset()

    def now(self) -> str:
        return iso_timestamp(self._clock())

    def reset(self) -> None:
        """Back to a fresh portal: standard properties and groups, one owner, no contacts."""
        with self.lock:
            created = self.now()
            self.contacts: dict[str, StoredContact] = {}
            self.archived: dict[str, StoredContact] = {}
            self.properties: dict[str, PropertyDef] = {
                p.name: p for p in standard_properties(created)
            }
            self.archived_properties: dict[str, PropertyDef] = {}
            self.groups: dict[str, PropertyGroup] = {g.name: g for g in STANDARD_GROUPS}
            self.owners: dict[str, Owner] = {}
            self._unique: dict[str, dict[str, str]] = {"email": {}}
            self._contact_ids = itertools.count(FIRST_CONTACT_ID)
            self._owner_ids = itertools.count(FIRST_OWNER_ID)
            self._user_ids = itertools.count(FIRST_USER_ID)
        self.add_owner(self._admin_email, "Demo", "Admin")

    # properties and groups -------------------------------------------------------------

    def create_property(self, body: Mapping[str, Any]) -> PropertyDef:
        with self.lock:
            definition = parse_property_create(
                body, existing=self.properties, groups=self.groups, created_at=self.now()
            )
            self.properties[definition.name] = definition
            if definition.has_unique_value:
                self._unique[definition.name] = {
                    c.properties[definition.name]: c.id
                    for c in self.contacts.values()
                    if definition.name in c.properties
                }
            return definition

    def update_property(self, name: str, body: Mapping[str, Any]) -> PropertyDef:
        with self.lock:
            definition = self.properties.get(name)
            if definition is None:
                raise HubSpotError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
            updated = parse_property_update(
                definition, body, groups=self.groups, updated_at=self.now()
            )
            self.properties[name] = updated
            return updated

    def archive_property(self, name: str) -> None:
        """Archived, the property is gone from reads and writes, its values with it (the
        emulator has no restore), and listed with ``?archived=true``."""
        with self.lock:
            definition = self.properties.get(name)
            if definition is None:
                raise HubSpotError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
            if definition.hubspot_defined:
                raise validation_error(
                    f"Unable to archive property {name}: HubSpot defined properties cannot be "
                    "archived"
                )
            del self.properties[name]
            self._unique.pop(name, None)
            for contact in (*self.contacts.values(), *self.archived.values()):
                contact.properties.pop(name, None)
            self.archived_properties[name] = replace(definition, archived_at=self.now())

    def update_group(self, name: str, body: Mapping[str, Any]) -> PropertyGroup:
        with self.lock:
            group = self.groups.get(name)
            if group is None:
                raise HubSpotError(404, f"Unable to find property group {name}", "OBJECT_NOT_FOUND")
            self.groups[name] = parse_group_update(group, body)
            return self.groups[name]

    def archive_group(self, name: str) -> None:
        with self.lock:
            if name not in self.groups:
                raise HubSpotError(404, f"Unable to find property group {name}", "OBJECT_NOT_FOUND")
            if any(p.group_name == name for p in self.properties.values()):
                # the message is a guess: HubSpot refuses to archive a group still in use
                raise validation_error(
                    f"Unable to archive property group {name}: properties still belong to it"
                )
            del self.groups[name]

    def create_group(self, body: Mapping[str, Any]) -> PropertyGroup:
        with self.lock:
            group = parse_group_create(body, existing=list(self.groups))
            self.groups[group.name] = group
            return group

    def unique_properties(self) -> list[str]:
        with self.lock:
            return [ID_PROPERTY, *self._unique]

    # owners ----------------------------------------------------------------------------

    def add_owner(self, email: str, first_name: str, last_name: str) -> Owner:
        with self.lock:
            now = self.now()
            owner = Owner(
                id=str(next(self._owner_ids)),
                email=email.strip().lower(),
                first_name=first_name,
                last_name=last_name,
                user_id=next(self._user_ids),
                created_at=now,
                updated_at=now,
            )
            self.owners[owner.id] = owner
            return owner

    # contacts: lookups -----------------------------------------------------------------

    def _resolve(self, id_value: str, id_property: str | None) -> StoredContact | None:
        prop = id_property or ID_PROPERTY
        if prop == ID_PROPERTY:
            return self.contacts.get(id_value)
        index = self._unique.get(prop)
        if index is None:
            raise validation_error(
                f"Property '{prop}' is not a unique property and cannot be used as idProperty"
            )
        key = id_value.strip().lower() if prop == "email" else id_value
        found = index.get(key)
        return self.contacts.get(found) if found else None

    def get(self, id_value: str, id_property: str | None = None) -> StoredContact:
        with self.lock:
            contact = self._resolve(id_value, id_property)
            if contact is None:
                raise not_found()
            return contact.copy()

    def find(self, **properties: str | None) -> list[StoredContact]:
        """Contacts whose properties equal all of ``properties`` (None: property unset)."""
        with self.lock:
            return [c.copy() for c in self.contacts.values() if _matches(c, properties)]

    def page(
        self, *, limit: int, after: str | None, archived: bool
    ) -> tuple[list[StoredContact], str | None]:
        """One page in id order; the cursor is the last id returned."""
        with self.lock:
            source = self.archived if archived else self.contacts
            start = int(after) if after and after.isdigit() else 0
            ordered = sorted((c for c in source.values() if int(c.id) > start), key=_id_order)
            page = [c.copy() for c in ordered[:limit]]
        return page, (page[-1].id if len(ordered) > limit else None)

    def snapshot(self, *, archived: bool = False) -> list[StoredContact]:
        """Copies of every live (or archived) contact, in id order."""
        with self.lock:
            source = self.archived if archived else self.contacts
            return sorted((c.copy() for c in source.values()), key=_id_order)

    def definitions(self) -> dict[str, PropertyDef]:
        with self.lock:
            return dict(self.properties)

    def owner_list(self) -> list[Owner]:
        with self.lock:
            return sorted(self.owners.values(), key=lambda o: int(o.id))

    # contacts: writes ------------------------------------------------------------------

    def _values(self, raw: Mapping[str, object], *, manual: bool = False) -> dict[str, str]:
        return normalise(raw, self.properties, self.owners.keys(), allow_read_only=manual)

    def _check_unique(self, values: Mapping[str, str], contact_id: str | None) -> None:
        for prop, value in values.items():
            holder = self._unique.get(prop, {}).get(value) if value else None
            if holder is not None and holder != contact_id:
                raise _conflict(prop, value, holder)

    def _write(self, contact: StoredContact | None, values: Mapping[str, str]) -> StoredContact:
        """Apply checked values; a new contact when ``contact`` is None. Bumps
        ``lastmodifieddate`` only when a value actually changed."""
        now = self.now()
        if contact is None:
            new_id = str(next(self._contact_ids))
            contact = StoredContact(new_id, {"createdate": now, ID_PROPERTY: new_id}, now, now)
            self.contacts[new_id] = contact
            changed = True
        else:
            changed = False
        for prop, value in values.items():
            old = contact.properties.get(prop)
            if old == (value or None):
                continue
            changed = True
            index = self._unique.get(prop)
            if index is not None and old is not None:
                index.pop(old, None)
            if value:
                contact.properties[prop] = value
                if index is not None:
                    index[value] = contact.id
            else:
                contact.properties.pop(prop, None)
        if changed:
            contact.properties["lastmodifieddate"] = now
            contact.updated_at = now
        return contact

    def create(self, raw: Mapping[str, object]) -> StoredContact:
        with self.lock:
            values = self._values(raw)
            self._check_unique(values, None)
            return self._write(None, values).copy()

    def create_many(self, inputs: Sequence[Mapping[str, object]]) -> list[StoredContact]:
        """All or nothing: one invalid value (400) or taken unique value (409) fails the batch."""
        with self.lock:
            checked = [self._values(raw) for raw in inputs]
            seen: dict[tuple[str, str], int] = {}
            for position, values in enumerate(checked):
                self._check_unique(values, None)
                for prop, value in values.items():
                    if prop in self._unique and value:
                        if (prop, value) in seen:
                            raise HubSpotError(
                                409,
                                f"Duplicate {prop} {value!r} in batch input "
                                f"(inputs {seen[(prop, value)]} and {position}).",
                                "CONFLICT",
                            )
                        seen[(prop, value)] = position
            return [self._write(None, values).copy() for values in checked]

    def update(
        self,
        id_value: str,
        raw: Mapping[str, object],
        id_property: str | None = None,
        *,
        manual: bool = False,
    ) -> StoredContact:
        """Update one contact (404, 400 or 409 as HubSpotError). ``manual`` is an edit made by
        a user in the CRM: read-only properties such as ``lastmodifieddate`` may be set."""
        with self.lock:
            contact = self._resolve(id_value, id_property)
            if contact is None:
                raise not_found()
            values = self._values(raw, manual=manual)
            self._check_unique(values, contact.id)
            return self._write(contact, values).copy()

    def update_many(
        self, inputs: Sequence[tuple[str, str | None, Mapping[str, object]]]
    ) -> list[StoredContact | HubSpotError]:
        """Update each ``(id value, idProperty, properties)``. Invalid values fail the whole
        batch (400); missing ids and conflicts fail per item."""
        with self.lock:
            checked = [(id_value, prop, self._values(raw)) for id_value, prop, raw in inputs]
            results: list[StoredContact | HubSpotError] = []
            for id_value, id_property, values in checked:
                contact = self._resolve(id_value, id_property)
                if contact is None:
                    results.append(not_found())
                    continue
                try:
                    self._check_unique(values, contact.id)
                except HubSpotError as exc:
                    results.append(exc)
                    continue
                results.append(self._write(contact, values).copy())
            return results

    def upsert_many(
        self, inputs: Sequence[tuple[str, str | None, Mapping[str, object]]]
    ) -> list[Upserted | HubSpotError]:
        """Create or update each ``(id value, idProperty, properties)``; each item succeeds or
        fails on its own. A created record gets the idProperty value."""
        with self.lock:
            results: list[Upserted | HubSpotError] = []
            for id_value, id_property, raw in inputs:
                try:
                    results.append(self._upsert_one(id_value, id_property, raw))
                except HubSpotError as exc:
                    results.append(exc)
            return results

    def _upsert_one(
        self, id_value: str, id_property: str | None, raw: Mapping[str, object]
    ) -> Upserted:
        contact = self._resolve(id_value, id_property)
        prop = id_property or ID_PROPERTY
        if contact is None and prop == ID_PROPERTY:
            raise not_found()
        values = self._values(raw if prop == ID_PROPERTY else {prop: id_value, **raw})
        self._check_unique(values, contact.id if contact else None)
        return self._write(contact, values).copy(), contact is None

    def archive(self, ids: Iterable[str]) -> None:
        """Archive contacts (unknown ids are ignored, as HubSpot's DELETE is idempotent)."""
        with self.lock:
            now = self.now()
            for contact_id in ids:
                contact = self.contacts.pop(contact_id, None)
                if contact is None:
                    continue
                for prop, index in self._unique.items():
                    value = contact.properties.get(prop)
                    if value is not None and index.get(value) == contact.id:
                        del index[value]
                contact.archived, contact.archived_at, contact.updated_at = True, now, now
                self.archived[contact.id] = contact


def _id_order(contact: StoredContact) -> int:
    return int(contact.id)


def _matches(contact: StoredContact, wanted: Mapping[str, str | None]) -> bool:
    for prop, value in wanted.items():
        have = contact.properties.get(prop)
        if prop == "email" and value is not None:
            value = value.strip().lower()
        if have != value:
            return False
    return True
