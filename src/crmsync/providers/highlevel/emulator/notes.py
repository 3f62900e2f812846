"""Contact notes (``/contacts/{contactId}/notes``), as HighLevel's contacts OpenAPI spec
describes them (``NotesDTO``, ``UpdateNoteDTO``, ``GetNoteSchema``).

A note has ``body`` (required at create), ``title``, ``userId`` (a user of the location),
``color`` and ``pinned``; any other property is refused as HighLevel's whitelisting refuses it
(422, "property x should not exist"). ``dateAdded`` is when it was created: HighLevel takes no
date of its own for a note. A contact the location does not have is HighLevel's 400.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmsync.providers.highlevel.emulator.errors import bad_request, unprocessable

CREATE_KEYS = frozenset({"userId", "body", "title", "color", "pinned"})
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class StoredNote:
    id: str
    location_id: str
    contact_id: str
    body: str
    title: str | None
    user_id: str | None
    color: str | None
    pinned: bool
    date_added: str

    def as_json(self) -> dict[str, Any]:
        """Unset optional fields are left out (the spec types them as strings)."""
        shown = {
            "id": self.id,
            "body": self.body,
            "userId": self.user_id,
            "dateAdded": self.date_added,
            "contactId": self.contact_id,
            "title": self.title,
            "color": self.color,
            "pinned": self.pinned,
        }
        return {key: value for key, value in shown.items() if value is not None}


def _parse(body: Mapping[str, Any], users: frozenset[str], create: bool) -> dict[str, Any]:
    errors = [f"property {key} should not exist" for key in body if key not in CREATE_KEYS]
    if create and not body.get("body"):
        errors.append("body should not be empty")
    for key in ("body", "title", "color", "userId"):
        if key in body and not isinstance(body[key], str):
            errors.append(f"{key} must be a string")
    if "pinned" in body and not isinstance(body["pinned"], bool):
        errors.append("pinned must be a boolean value")
    if errors:
        raise unprocessable(errors)
    if body.get("userId") and body["userId"] not in users:
        raise bad_request("User id is not part of this location")
    return dict(body)


@dataclass
class NoteStore:
    clock: Callable[[], float]
    notes: dict[str, StoredNote] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _random: random.Random = field(default_factory=lambda: random.Random(7))

    def reset(self) -> None:
        with self.lock:
            self.notes.clear()

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self.clock(), UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def create(
        self, location_id: str, contact_id: str, body: Mapping[str, Any], users: frozenset[str]
    ) -> StoredNote:
        values = _parse(body, users, create=True)
        with self.lock:
            note = StoredNote(
                id="".join(self._random.choice(_ALPHABET) for _ in range(20)),
                location_id=location_id,
                contact_id=contact_id,
                body=values["body"],
                title=values.get("title"),
                user_id=values.get("userId"),
                color=values.get("color"),
                pinned=bool(values.get("pinned", False)),
                date_added=self._now(),
            )
            self.notes[note.id] = note
            return note

    def update(
        self,
        location_id: str,
        contact_id: str,
        note_id: str,
        body: Mapping[str, Any],
        users: frozenset[str],
    ) -> StoredNote:
        values = _parse(body, users, create=False)
        with self.lock:
            note = self._owned(location_id, contact_id, note_id)
            if "body" in values:
                note.body = values["body"]
            if "title" in values:
                note.title = values["title"]
            if "userId" in values:
                note.user_id = values["userId"]
            if "color" in values:
                note.color = values["color"]
            if "pinned" in values:
                note.pinned = values["pinned"]
            return note

    def get(self, location_id: str, contact_id: str, note_id: str) -> StoredNote:
        with self.lock:
            return self._owned(location_id, contact_id, note_id)

    def of_contact(self, location_id: str, contact_id: str) -> list[StoredNote]:
        with self.lock:
            return [
                n
                for n in self.notes.values()
                if n.location_id == location_id and n.contact_id == contact_id
            ]

    def _owned(self, location_id: str, contact_id: str, note_id: str) -> StoredNote:
        note = self.notes.get(note_id)
        if note is None or note.location_id != location_id or note.contact_id != contact_id:
            raise bad_request("Note not found")
        return note
