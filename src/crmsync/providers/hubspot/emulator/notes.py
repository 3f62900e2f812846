"""Notes (``/crm/v3/objects/notes``): created with an association to a contact, read, updated
in place, as HubSpot's notes API documents them.

A note's properties are ``hs_timestamp`` (required at create: epoch milliseconds or an ISO
8601 UTC string), ``hs_note_body`` (up to 65,536 characters), ``hubspot_owner_id`` and
``hs_attachment_ids``; any other property is refused as HubSpot refuses an unknown one
(``PROPERTY_DOESNT_EXIST``). Associations at create use the v4 shape: ``{"to": {"id"},
"types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}`` (202: note
to contact); another type, or a contact the portal does not have, is refused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmsync.providers.hubspot.emulator.errors import (
    ValueProblem,
    invalid_values,
    not_found,
    validation_error,
)
from crmsync.providers.hubspot.emulator.values import iso_timestamp

NOTE_PROPERTIES = frozenset(
    {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"}
)
NOTE_TO_CONTACT = 202
MAX_NOTE_BODY = 65_536


@dataclass
class StoredNote:
    id: str
    properties: dict[str, str]
    contact_ids: list[str]
    created_at: str
    updated_at: str

    def as_json(
        self, names: list[str] | None = None, with_contacts: bool = False
    ) -> dict[str, Any]:
        shown: dict[str, str | None] = {
            "hs_createdate": self.created_at,
            "hs_lastmodifieddate": self.updated_at,
            "hs_object_id": self.id,
        }
        wanted = names if names is not None else ["hs_timestamp", "hs_note_body"]
        shown.update({n: self.properties.get(n) for n in wanted if n in NOTE_PROPERTIES})
        body: dict[str, Any] = {
            "id": self.id,
            "properties": shown,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }
        if with_contacts:
            body["associations"] = {
                "contacts": {
                    "results": [{"id": c, "type": "note_to_contact"} for c in self.contact_ids]
                }
            }
        return body


@dataclass
class NoteStore:
    clock: Callable[[], float]
    notes: dict[str, StoredNote] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 7_000_000_001

    def reset(self) -> None:
        with self.lock:
            self.notes.clear()

    def create(self, properties: dict[str, Any], contact_ids: list[str]) -> StoredNote:
        values = _checked(properties)
        if "hs_timestamp" not in values:
            raise validation_error("Property hs_timestamp is required")
        now = iso_timestamp(self.clock())
        with self.lock:
            note = StoredNote(str(self.next_id), values, contact_ids, now, now)
            self.next_id += 1
            self.notes[note.id] = note
            return note

    def update(self, note_id: str, properties: dict[str, Any]) -> StoredNote:
        values = _checked(properties)
        with self.lock:
            note = self.notes.get(note_id)
            if note is None:
                raise not_found()
            note.properties.update(values)
            note.updated_at = iso_timestamp(self.clock())
            return note

    def get(self, note_id: str) -> StoredNote:
        with self.lock:
            note = self.notes.get(note_id)
            if note is None:
                raise not_found()
            return note


def _checked(properties: dict[str, Any]) -> dict[str, str]:
    problems = [
        ValueProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        for name in properties
        if name not in NOTE_PROPERTIES
    ]
    values = {name: "" if v is None else str(v) for name, v in properties.items()}
    stamp = values.get("hs_timestamp")
    if stamp is not None and not _moment(stamp):
        problems.append(
            ValueProblem("hs_timestamp", "INVALID_DATE", f"{stamp!r} is not a valid timestamp")
        )
    if len(values.get("hs_note_body", "")) > MAX_NOTE_BODY:
        problems.append(
            ValueProblem("hs_note_body", "INVALID_STRING", "hs_note_body is over 65536 characters")
        )
    if problems:
        raise invalid_values(problems)
    return values


def _moment(value: str) -> bool:
    if value.isdigit():
        return True
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None)
