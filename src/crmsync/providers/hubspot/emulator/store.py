"""The portal's data: contacts, property definitions, groups and owners, behind one lock.

Unique values (email and ``hasUniqueValue`` properties) are indexed (``unique.py``), so
conflicts are found in constant time however many contacts a soak test creates. Methods never
await: they hold the lock only for pure in-memory work.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from crmsync.providers.hubspot.emulator.errors import (
    HubSpotError,
    not_found,
    validation_error,
)
from crmsync.providers.hubspot.emulator.events import (
    CREATION,
    DELETION,
    MERGE,
    PROPERTY_CHANGE,
    RESTORE,
    ContactEvent,
)
from crmsync.providers.hubspot.emulator.history import Source, Version
from crmsync.providers.hubspot.emulator.index import SearchIndex
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
from crmsync.providers.hubspot.emulator.records import (
    Owner,
    StoredContact,
    id_order,
    matches,
    split_ids,
)
from crmsync.providers.hubspot.emulator.unique import UniqueValues
from crmsync.providers.hubspot.emulator.values import iso_timestamp, normalise

FIRST_CONTACT_ID = 100001
FIRST_OWNER_ID = 50000001
FIRST_USER_ID = 7000001
ID_PROPERTY = "hs_object_id"
MERGED_IDS = "hs_merged_object_ids"
MAX_VERSIONS = 50
"""Versions kept per property (memory stays bounded in soak tests; HubSpot keeps more)."""

Upserted = tuple[StoredContact, bool]
T = TypeVar("T")


class CrmStore:
    """``app_id`` is the installed app's: writes through the API are its (``INTEGRATION``),
    edits made "by hand" are the portal admin's (``CRM_UI``) unless a source is given."""

    def __init__(self, *, clock: Callable[[], float], admin_email: str, app_id: int = 0) -> None:
        self.lock = threading.Lock()
        self._clock = clock
        self._admin_email = admin_email
        self.integration = Source.app(app_id)
        self.index = SearchIndex(clock)
        self.events: list[ContactEvent] | None = None
        """Changes kept for the webhooks; None (the default) keeps none."""
        self.reset()

    def now(self) -> str:
        return iso_timestamp(self._clock())

    def reset(self) -> None:
        """Back to a fresh portal: standard properties and groups, one owner, no contacts."""
        with self.lock:
            created = self.now()
            self.contacts: dict[str, StoredContact] = {}
            self.archived: dict[str, StoredContact] = {}
            self.merged: dict[str, str] = {}
            """A merged-away id → the id of the contact that survived it."""
            self.index.set_lag(self.index.lag_seconds, {}, self.index.create_lag_seconds)
            if self.events is not None:
                self.events.clear()
            self.properties: dict[str, PropertyDef] = {
                p.name: p for p in standard_properties(created)
            }
            self.archived_properties: dict[str, PropertyDef] = {}
            self.groups: dict[str, PropertyGroup] = {g.name: g for g in STANDARD_GROUPS}
            self.owners: dict[str, Owner] = {}
            self.unique = UniqueValues()
            self._contact_ids = itertools.count(FIRST_CONTACT_ID)
            self._owner_ids = itertools.count(FIRST_OWNER_ID)
            self._user_ids = itertools.count(FIRST_USER_ID)
        self.admin_source = Source.user(self.add_owner(self._admin_email, "Demo", "Admin").user_id)

    # properties and groups -------------------------------------------------------------

    def create_property(self, body: Mapping[str, Any]) -> PropertyDef:
        with self.lock:
            definition = parse_property_create(
                body, existing=self.properties, groups=self.groups, created_at=self.now()
            )
            self.properties[definition.name] = definition
            if definition.has_unique_value:
                self.unique.add_property(definition.name, self.contacts.values())
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
            self.unique.drop_property(name)
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
            return [ID_PROPERTY, *self.unique.names()]

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
        """By id a merged-away contact answers as its survivor, as on HubSpot."""
        prop = id_property or ID_PROPERTY
        if prop == ID_PROPERTY:
            return self.contacts.get(self.merged.get(id_value, id_value))
        if prop not in self.unique:
            raise validation_error(
                f"Property '{prop}' is not a unique property and cannot be used as idProperty"
            )
        found = self.unique.holder(prop, id_value.strip().lower() if prop == "email" else id_value)
        return self.contacts.get(found) if found else None

    def get(
        self, id_value: str, id_property: str | None = None, *, archived: bool = False
    ) -> StoredContact:
        """A live contact, or with ``archived`` an archived one (HubSpot's ``?archived=true``)."""
        with self.lock:
            if archived:
                contact = self.archived.get(id_value) if not id_property else None
            else:
                contact = self._resolve(id_value, id_property)
            if contact is None:
                raise not_found()
            return contact.copy()

    def searchable(self) -> list[StoredContact]:
        """Copies of what search finds now: the live contacts as the lagging index has them."""
        with self.lock:
            return [c.copy() for c in self.index.searchable(self.contacts)]

    def search(self, run: Callable[[list[StoredContact]], T]) -> T:
        """``run`` over what search finds now, under the lock (no copy of every contact: a
        search reads them all and answers a page)."""
        with self.lock:
            return run(self.index.searchable(self.contacts))

    def set_search_lag(self, seconds: float, create_seconds: float | None = None) -> None:
        """Updates searchable ``seconds`` later, creates ``create_seconds`` (default: same)."""
        with self.lock:
            self.index.set_lag(seconds, self.contacts, create_seconds)

    def capture_events(self, on: bool) -> None:
        """Keep changes for the webhooks from now on (or stop and forget them)."""
        with self.lock:
            self.events = [] if on else None

    def take_events(self) -> list[ContactEvent]:
        with self.lock:
            taken, self.events = list(self.events or []), ([] if self.events is not None else None)
            return taken

    def find(self, **properties: str | None) -> list[StoredContact]:
        """Contacts whose properties equal all of ``properties`` (None: property unset)."""
        with self.lock:
            return [c.copy() for c in self.contacts.values() if matches(c, properties)]

    def page(
        self, *, limit: int, after: str | None, archived: bool
    ) -> tuple[list[StoredContact], str | None]:
        """One page in id order; the cursor is the last id returned."""
        with self.lock:
            source = self.archived if archived else self.contacts
            start = int(after) if after and after.isdigit() else 0
            ordered = sorted((c for c in source.values() if int(c.id) > start), key=id_order)
            page = [c.copy() for c in ordered[:limit]]
        return page, (page[-1].id if len(ordered) > limit else None)

    def snapshot(self, *, archived: bool = False) -> list[StoredContact]:
        """Copies of every live (or archived) contact, in id order."""
        with self.lock:
            source = self.archived if archived else self.contacts
            return sorted((c.copy() for c in source.values()), key=id_order)

    def definitions(self) -> dict[str, PropertyDef]:
        with self.lock:
            return dict(self.properties)

    def owner_list(self) -> list[Owner]:
        with self.lock:
            return sorted(self.owners.values(), key=lambda o: int(o.id))

    # contacts: writes ------------------------------------------------------------------

    def _values(self, raw: Mapping[str, object], *, manual: bool = False) -> dict[str, str]:
        return normalise(raw, self.properties, self.owners.keys(), allow_read_only=manual)

    def _emit(self, event_type: str, contact_id: str, source: Source, **extra: Any) -> None:
        if self.events is not None:
            self.events.append(ContactEvent(event_type, contact_id, self._clock(), source, **extra))

    def _write(
        self, contact: StoredContact | None, values: Mapping[str, str], source: Source
    ) -> StoredContact:
        """Apply checked values; a new contact when ``contact`` is None. Bumps
        ``lastmodifieddate`` only when a value actually changed, and records each new value
        in the property's history with its source."""
        now = self.now()
        created = contact is None
        if contact is None:
            new_id = str(next(self._contact_ids))
            contact = StoredContact(new_id, {"createdate": now, ID_PROPERTY: new_id}, now, now)
            self.contacts[new_id] = contact
            changed = True
            self._emit(CREATION, new_id, source)
            for prop in ("createdate", ID_PROPERTY):
                contact.history[prop] = (Version(contact.properties[prop], now, source),)
        else:
            changed = False
        for prop, value in values.items():
            old = contact.properties.get(prop)
            if old == (value or None):
                continue
            changed = True
            kept = contact.history.get(prop, ())[-(MAX_VERSIONS - 1) :]
            contact.history[prop] = (*kept, Version(value, now, source))
            if not created:  # a new contact is one creation event, as HubSpot sends it
                self._emit(
                    PROPERTY_CHANGE, contact.id, source, property_name=prop, property_value=value
                )
            self.unique.changed(contact.id, prop, old, value)
            if value:
                contact.properties[prop] = value
            else:
                contact.properties.pop(prop, None)
        if changed:
            contact.properties["lastmodifieddate"] = now
            contact.updated_at = now
            self.index.written(contact, created=created)
        return contact

    def create(self, raw: Mapping[str, object], source: Source | None = None) -> StoredContact:
        """A contact created through the API by the app, or by ``source`` (a user)."""
        with self.lock:
            values = self._values(raw)
            self.unique.check(values, None)
            return self._write(None, values, source or self.integration).copy()

    def create_many(self, inputs: Sequence[Mapping[str, object]]) -> list[StoredContact]:
        """All or nothing: one invalid value (400) or taken unique value (409) fails the batch."""
        with self.lock:
            checked = [self._values(raw) for raw in inputs]
            seen: dict[tuple[str, str], int] = {}
            for position, values in enumerate(checked):
                self.unique.check(values, None)
                for prop, value in values.items():
                    if prop in self.unique and value:
                        if (prop, value) in seen:
                            raise HubSpotError(
                                409,
                                f"Duplicate {prop} {value!r} in batch input "
                                f"(inputs {seen[(prop, value)]} and {position}).",
                                "CONFLICT",
                            )
                        seen[(prop, value)] = position
            return [self._write(None, values, self.integration).copy() for values in checked]

    def update(
        self,
        id_value: str,
        raw: Mapping[str, object],
        id_property: str | None = None,
        *,
        manual: bool = False,
        source: Source | None = None,
    ) -> StoredContact:
        """Update one contact (404, 400 or 409 as HubSpotError). ``manual`` is an edit made by
        a user in the CRM (``source``, the portal admin by default): read-only properties such
        as ``lastmodifieddate`` may be set."""
        with self.lock:
            contact = self._resolve(id_value, id_property)
            if contact is None:
                raise not_found()
            values = self._values(raw, manual=manual)
            self.unique.check(values, contact.id)
            writer = source or (self.admin_source if manual else self.integration)
            return self._write(contact, values, writer).copy()

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
                    self.unique.check(values, contact.id)
                except HubSpotError as exc:
                    results.append(exc)
                    continue
                results.append(self._write(contact, values, self.integration).copy())
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
        self.unique.check(values, contact.id if contact else None)
        return self._write(contact, values, self.integration).copy(), contact is None

    def archive(self, ids: Iterable[str], source: Source | None = None) -> None:
        """Archive contacts (unknown ids are ignored, as HubSpot's DELETE is idempotent).
        Archiving leaves ``updatedAt`` and ``lastmodifieddate`` as they were: HubSpot does
        not bump them (supaglue-labs/supaglue#665), so a change feed on them never sees it."""
        with self.lock:
            now = self.now()
            for contact_id in ids:
                contact = self.contacts.pop(contact_id, None)
                if contact is None:
                    continue
                self.unique.release(contact)
                contact.archived, contact.archived_at = True, now
                self.archived[contact.id] = contact
                self._emit(DELETION, contact.id, source or self.integration)

    def restore(self, contact_id: str, source: Source | None = None) -> StoredContact:
        """A user restores an archived contact (HubSpot keeps them 90 days) under its old id.
        Unconfirmed: that a restore bumps ``lastmodifieddate``; it is a change of the record,
        and HubSpot sends ``contact.restore`` for it. A unique value taken meanwhile is 409."""
        with self.lock:
            contact = self.archived.get(contact_id)
            if contact is None:
                raise not_found()
            self.unique.check(self.unique.held_by(contact), contact.id)
            del self.archived[contact_id]
            contact.archived, contact.archived_at = False, None
            self.unique.claim(contact)
            self.contacts[contact.id] = contact
            writer = source or self.admin_source
            now = self.now()
            contact.properties["lastmodifieddate"] = now
            contact.updated_at = now
            self.index.written(contact)
            self._emit(RESTORE, contact.id, writer)
            return contact.copy()

    def merge(self, primary_id: str, merged_id: str, source: Source | None = None) -> StoredContact:
        """Merge ``merged_id`` into ``primary_id``, which survives under its own id (for
        contacts HubSpot keeps the primary's id; other objects get a new one). The primary's
        values win and blanks are filled from the other; the survivor lists every id merged
        into it in ``hs_merged_object_ids`` (semicolon-separated), and reading a merged id
        answers the survivor. A merge is a change of the survivor: its stamp moves."""
        with self.lock:
            primary = self.contacts.get(self.merged.get(primary_id, primary_id))
            other = self.contacts.get(self.merged.get(merged_id, merged_id))
            if primary is None or other is None:
                raise not_found()
            if primary.id == other.id:
                raise validation_error(f"Cannot merge object {primary.id} with itself")
            writer = source or self.integration
            del self.contacts[other.id]
            self.unique.release(other)
            gone = [other.id, *split_ids(other.properties.get(MERGED_IDS))]
            for old in gone:
                self.merged[old] = primary.id
            for old, survivor in self.merged.items():
                if survivor == other.id:
                    self.merged[old] = primary.id
            filled = {
                p: v
                for p, v in other.properties.items()
                if p not in primary.properties and p not in self.unique and p not in _OWN
            }
            listed = [*split_ids(primary.properties.get(MERGED_IDS)), *gone]
            self._write(primary, {**filled, MERGED_IDS: ";".join(listed)}, writer)
            self._emit(MERGE, primary.id, writer, merged_ids=tuple(gone))
            return primary.copy()


_OWN = frozenset({ID_PROPERTY, "createdate", "lastmodifieddate", MERGED_IDS})
"""Properties a merge never takes from the merged-away contact."""
