"""The agency's data: locations, users, custom fields and contacts, behind one lock.

Email, phone and custom field values are indexed per location, so duplicate checks and
Person ID searches take constant time however many contacts a benchmark creates. Methods never
await: they hold the lock only for in-memory work.

A deleted contact is kept apart (``deleted``), restorable, its ``dateUpdated`` moved to the
delete: gone from gets, updates and duplicate checks, found only by a search that names
``deleted`` (unconfirmed; the contact schema has a ``deleted`` flag). Every write is told to
the search index (``index.py``, which may trail) and to the app's webhooks (``events``).
"""

from __future__ import annotations

import random
import re
import string
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.errors import (
    bad_request,
    contact_not_found,
    duplicate_contact,
    forbidden_location,
)
from crmsync.providers.highlevel.emulator.index import SearchIndex
from crmsync.providers.highlevel.emulator.records import (
    UNSET,
    ContactInput,
    CustomField,
    Location,
    StoredContact,
    User,
)
from crmsync.providers.highlevel.emulator.search import Page, Query, one_page
from crmsync.providers.highlevel.emulator.webhooks import (
    CONTACT_CREATE,
    CONTACT_DELETE,
    CONTACT_DND_UPDATE,
    CONTACT_TAG_UPDATE,
    CONTACT_UPDATE,
)

_ID_ALPHABET = string.ascii_letters + string.digits
Key = tuple[str, str]
Events = Callable[[str, StoredContact], None]
"""``(event type, contact)`` after each change: the app's webhooks."""


def field_key(name: str) -> str:
    """HighLevel derives a custom field's ``fieldKey`` from its name."""
    return "contact." + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def phone_digits(phone: str) -> str:
    return re.sub(r"[^0-9]", "", phone)


def _no_events(_type: str, _contact: StoredContact) -> None:
    return None


class HighLevelStore:
    def __init__(self, config: HighLevelEmulatorConfig, events: Events = _no_events) -> None:
        self.lock = threading.Lock()
        self.config = config
        self.events = events
        self.index = SearchIndex(config.clock)
        self.index.set_delay(config.index_delay_seconds, ())
        self.reset()

    def reset(self) -> None:
        """The agency as configured: its locations, its admin user, no contacts."""
        with self.lock:
            self._random = random.Random()  # ids unique across emulators, as on HighLevel
            self._last_ms = 0
            self.locations: dict[str, Location] = {}
            self.users: dict[str, User] = {}
            self.fields: dict[str, dict[str, CustomField]] = {}
            self.contacts: dict[str, StoredContact] = {}
            self.deleted: dict[str, StoredContact] = {}
            self.index.set_delay(self.index.delay_seconds, ())
            self._in_location: dict[str, set[str]] = defaultdict(set)
            self._emails: dict[Key, set[str]] = defaultdict(set)
            self._phones: dict[Key, set[str]] = defaultdict(set)
            self._custom: dict[Key, set[str]] = defaultdict(set)
        for seed in self.config.locations:
            self.add_location(seed.name, seed.city, seed.state, seed.country)
        self.add_user(self.config.admin_email, "Agency", "Admin")

    def _new_id(self) -> str:
        return "".join(self._random.choice(_ID_ALPHABET) for _ in range(20))

    def _stamp(self) -> tuple[str, int]:
        """An ISO timestamp and strictly increasing milliseconds (a stable sort order)."""
        now_ms = max(int(self.config.clock() * 1000), self._last_ms + 1)
        self._last_ms = now_ms
        moment = datetime.fromtimestamp(now_ms / 1000, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"), now_ms

    # locations and users ----------------------------------------------------------------

    def add_location(self, name: str, city: str, state: str, country: str = "US") -> Location:
        with self.lock:
            slug = re.sub(r"[^a-z0-9]+", "", name.lower())
            location = Location(
                self._new_id(),
                self.config.company_id,
                name,
                city,
                state,
                country,
                f"hi@{slug}.test",
            )
            self.locations[location.id] = location
            self.fields[location.id] = {}
            return location

    def location(self, location_id: str, token_location: str | None = None) -> Location:
        with self.lock:
            if token_location is not None and location_id != token_location:
                raise forbidden_location()
            found = self.locations.get(location_id)
            if found is None:
                raise bad_request("Location not found")
            return found

    def location_list(self) -> list[Location]:
        with self.lock:
            return list(self.locations.values())

    def set_allow_duplicates(self, location_id: str, allowed: bool) -> Location:
        location = self.location(location_id)
        with self.lock:
            location.allow_duplicate_contact = allowed
            return location

    def add_user(
        self, email: str, first: str, last: str, location_ids: list[str] | None = None
    ) -> User:
        with self.lock:
            user = User(
                self._new_id(),
                self.config.company_id,
                email.strip().lower(),
                first,
                last,
                list(location_ids if location_ids is not None else self.locations),
            )
            self.users[user.id] = user
            return user

    def users_of(self, company_id: str, location_id: str | None = None) -> list[User]:
        with self.lock:
            return [
                u
                for u in self.users.values()
                if u.company_id == company_id
                and (location_id is None or location_id in u.location_ids)
            ]

    def user_in(self, location_id: str, user_id: str) -> User:
        """A user of this location (the token reaches no other location's users)."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None or location_id not in user.location_ids:
                raise bad_request("User not found")  # message unconfirmed
            return user

    def user_ids(self, location_id: str) -> frozenset[str]:
        with self.lock:
            return frozenset(u.id for u in self.users.values() if location_id in u.location_ids)

    # custom fields ----------------------------------------------------------------------

    def custom_fields(self, location_id: str, model: str = "all") -> list[CustomField]:
        with self.lock:
            fields = self.fields.get(location_id, {}).values()
            return [f for f in fields if model in ("all", f.model)]

    def custom_field(self, location_id: str, field_id: str) -> CustomField:
        with self.lock:
            found = self.fields.get(location_id, {}).get(field_id)
            if found is None:
                raise bad_request("Custom field not found")  # message unconfirmed
            return found

    def field_lookup(self, location_id: str) -> dict[str, CustomField]:
        """A location's contact custom fields by id and by ``fieldKey``."""
        with self.lock:
            found: dict[str, CustomField] = {}
            for definition in self.fields.get(location_id, {}).values():
                if definition.model == "contact":
                    found[definition.id] = found[definition.field_key] = definition
            return found

    def create_custom_field(
        self, location_id: str, name: str, data_type: str, model: str, placeholder: str = ""
    ) -> CustomField:
        with self.lock:
            fields = self.fields[location_id]
            taken = {f.name.lower() for f in fields.values() if f.model == model}
            if name.lower() in taken:  # message unconfirmed
                raise bad_request(f"A custom field named {name!r} already exists")
            keys = {f.field_key for f in fields.values()}
            key, suffix = field_key(name), 1
            while key in keys:
                key, suffix = f"{field_key(name)}_{suffix}", suffix + 1
            definition = CustomField(
                self._new_id(), location_id, name, key, data_type, model, len(fields), placeholder
            )
            fields[definition.id] = definition
            return definition

    # contacts ---------------------------------------------------------------------------

    def _owned(self, location_id: str, contact_id: str) -> StoredContact:
        contact = self.contacts.get(contact_id)
        if contact is None or contact.location_id != location_id:
            raise contact_not_found()
        return contact

    def get_contact(self, location_id: str, contact_id: str) -> StoredContact:
        with self.lock:
            return self._owned(location_id, contact_id).copy()

    def _holders(self, location_id: str, email: str | None, phone: str | None) -> list[Key]:
        """``(matching field, contact id)`` for contacts sharing the email, then the phone."""
        found: list[Key] = []
        if email:
            found += [("email", i) for i in self._emails.get((location_id, email.lower()), ())]
        digits = phone_digits(phone or "")
        if digits:
            found += [("phone", i) for i in self._phones.get((location_id, digits), ())]
        return sorted(found, key=lambda hit: (hit[0] != "email", self.contacts[hit[1]].added_ms))

    def _refuse_duplicates(
        self, location_id: str, values: dict[str, str | None], contact_id: str | None
    ) -> None:
        if self.locations[location_id].allow_duplicate_contact:
            return
        for field, holder in self._holders(location_id, values.get("email"), values.get("phone")):
            if holder != contact_id:
                other = self.contacts[holder]
                raise duplicate_contact(holder, other.name, field)

    def _written(self, contact: StoredContact, event_type: str) -> None:
        self.index.written(contact)
        self.events(event_type, contact)

    def _touch(self, contact: StoredContact) -> None:
        contact.date_updated, contact.updated_ms = self._stamp()

    def _apply(self, contact: StoredContact, change: ContactInput) -> list[str]:
        """Write ``change`` into ``contact``, keeping the indexes right; the webhook events
        it makes (none when nothing changed)."""
        before = (dict(contact.attributes), dict(contact.custom), contact.assigned_to)
        before_tags, before_dnd = list(contact.tags), contact.dnd
        loc = contact.location_id
        self._index(contact, add=False)
        for name, value in change.attributes.items():
            if value:
                contact.attributes[name] = value
            else:
                contact.attributes.pop(name, None)
        for field_id, value in change.custom.items():
            if value:
                contact.custom[field_id] = value
            else:
                contact.custom.pop(field_id, None)
        if change.assigned_to is not UNSET:
            contact.assigned_to = change.assigned_to
        contact.tags = change.tags if change.tags is not None else contact.tags
        contact.dnd = change.dnd if change.dnd is not None else contact.dnd
        self._index(contact, add=True)
        self._in_location[loc].add(contact.id)
        after = (contact.attributes, contact.custom, contact.assigned_to)
        made = [CONTACT_UPDATE] if after != before else []
        made += [CONTACT_TAG_UPDATE] if contact.tags != before_tags else []
        made += [CONTACT_DND_UPDATE] if contact.dnd != before_dnd else []
        return made

    def _index(self, contact: StoredContact, *, add: bool) -> None:
        loc = contact.location_id
        keys: list[tuple[dict[Key, set[str]], Key]] = []
        if contact.attributes.get("email"):
            keys.append((self._emails, (loc, contact.attributes["email"].lower())))
        if phone_digits(contact.attributes.get("phone", "")):
            keys.append((self._phones, (loc, phone_digits(contact.attributes["phone"]))))
        keys += [(self._custom, (fid, value)) for fid, value in contact.custom.items()]
        for index, key in keys:
            if add:
                index[key].add(contact.id)
            else:
                index[key].discard(contact.id)

    def create_contact(self, location_id: str, change: ContactInput) -> StoredContact:
        with self.lock:
            if location_id not in self.locations:
                raise forbidden_location()
            self._refuse_duplicates(location_id, change.attributes, None)
            stamp, ms = self._stamp()
            contact = StoredContact(self._new_id(), location_id, {}, {}, stamp, stamp, ms)
            contact.updated_ms = ms
            self._apply(contact, change)
            self.contacts[contact.id] = contact
            self._written(contact, CONTACT_CREATE)
            return contact.copy()

    def update_contact(
        self, location_id: str, contact_id: str, change: ContactInput
    ) -> StoredContact:
        with self.lock:
            contact = self._owned(location_id, contact_id)
            touched: dict[str, str | None] = {
                key: change.attributes[key]
                for key in ("email", "phone")
                if key in change.attributes
            }
            self._refuse_duplicates(location_id, touched, contact.id)
            made = self._apply(contact, change)
            if made:
                self._touch(contact)
                self.index.written(contact)
            for event_type in made:
                self.events(event_type, contact)
            return contact.copy()

    def delete_contact(self, location_id: str, contact_id: str) -> None:
        """Gone from gets, updates and duplicate checks at once; kept to be restored."""
        with self.lock:
            contact = self._owned(location_id, contact_id)
            self._index(contact, add=False)
            self._in_location[location_id].discard(contact_id)
            del self.contacts[contact_id]
            contact.deleted = True
            self._touch(contact)
            self.deleted[contact_id] = contact
            self._written(contact, CONTACT_DELETE)

    def restore_contact(self, location_id: str, contact_id: str) -> StoredContact:
        """A deleted contact restored in HighLevel: back with its id and values, a new
        ``dateUpdated`` (the event HighLevel sends for a restore is unconfirmed: a create)."""
        with self.lock:
            contact = self.deleted.get(contact_id)
            if contact is None or contact.location_id != location_id:
                raise contact_not_found()
            del self.deleted[contact_id]
            contact.deleted = False
            self._touch(contact)
            self.contacts[contact_id] = contact
            self._index(contact, add=True)
            self._in_location[location_id].add(contact_id)
            self._written(contact, CONTACT_CREATE)
            return contact.copy()

    def set_index_delay(self, seconds: float) -> None:
        """Searches see writes ``seconds`` later from now on (0: at once)."""
        with self.lock:
            self.index.set_delay(seconds, [*self.contacts.values(), *self.deleted.values()])

    def upsert_contact(
        self, location_id: str, change: ContactInput, create_new: bool
    ) -> tuple[StoredContact, bool]:
        """Match on email, then phone, as the location's deduplication settings say."""
        with self.lock:
            location = self.locations[location_id]
            holders = self._holders(
                location_id, change.attributes.get("email"), change.attributes.get("phone")
            )
            match = None if create_new and location.allow_duplicate_contact else holders
            existing = match[0][1] if match else None
        if existing is None:
            return self.create_contact(location_id, change), True
        return self.update_contact(location_id, existing, change), False

    def find_duplicate(
        self, location_id: str, email: str | None, phone: str | None
    ) -> StoredContact | None:
        with self.lock:
            holders = self._holders(location_id, email, phone)
            return self.contacts[holders[0][1]].copy() if holders else None

    def _search_pool(self, location_id: str, query: Query) -> list[StoredContact]:
        """The contacts a query may match: what the index shows (when it trails), else the
        store's, narrowed by the custom field index."""
        if self.index.delayed:
            return self.index.searchable()
        ids = query.candidates(lambda fid, value: self._custom.get((fid, value), set()))
        pool = self._in_location[location_id] if ids is None else ids
        found = [self.contacts[i] for i in pool if i in self.contacts]
        return found + list(self.deleted.values()) if query.deleted else found

    def search(self, location_id: str, query: Query, page: Page) -> tuple[list[Any], int]:
        """One page of matches, and how many match in all."""
        with self.lock:
            matches = [
                c
                for c in self._search_pool(location_id, query)
                if c.location_id == location_id
                and (query.deleted or not c.deleted)
                and query.predicate(c)
            ]
            return one_page(matches, page), len(matches)

    def snapshot(self, location_id: str) -> list[StoredContact]:
        with self.lock:
            found = (self.contacts[i] for i in self._in_location.get(location_id, ()))
            return sorted((c.copy() for c in found), key=lambda c: c.added_ms)
