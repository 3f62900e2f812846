"""Note activities (``/activity/note/``): a freeform text activity on a lead, optionally tied
to one of its contacts, as Close documents them.

``lead_id`` is required at create (a ``contact_id`` must be a contact of that lead); the text
is ``note`` (plain) or ``note_html`` (setting one overwrites the other, ``note_html`` winning
when both are sent); ``activity_at`` is when it happened (default: now). Any other field is
refused with Close's 400 (``field-errors``), not ignored. ``PUT`` sets only the keys sent.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crmsync.providers.close.emulator.errors import invalid, not_found

WRITABLE = frozenset({"lead_id", "contact_id", "note", "note_html", "activity_at", "user_id"})
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class NoteActivity:
    id: str
    organization_id: str
    lead_id: str
    contact_id: str | None
    user_id: str
    note: str
    note_html: str
    activity_at: str
    date_created: str
    date_updated: str

    @property
    def type(self) -> str:
        return "Note"

    def as_json(self) -> dict[str, Any]:
        return {
            "_type": "Note",
            "id": self.id,
            "organization_id": self.organization_id,
            "lead_id": self.lead_id,
            "contact_id": self.contact_id,
            "user_id": self.user_id,
            "created_by": self.user_id,
            "updated_by": self.user_id,
            "note": self.note,
            "note_html": self.note_html,
            "activity_at": self.activity_at,
            "date_created": self.date_created,
            "date_updated": self.date_updated,
        }


def _text(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """(note, note_html) as Close derives one from the other; None if neither was sent."""
    if payload.get("note_html") is not None:
        markup = str(payload["note_html"])
        return html.unescape(_TAGS.sub("", markup.replace("<br />", "\n"))), markup
    if payload.get("note") is not None:
        plain = str(payload["note"])
        return plain, html.escape(plain).replace("\n", "<br />")
    return None


def _moment(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field_errors={"activity_at": "Not a valid datetime."}) from None
    if moment.tzinfo is None:
        raise invalid(field_errors={"activity_at": "Not a valid datetime."})
    return moment.isoformat()


@dataclass
class NoteStore:
    """The notes of every organisation; ``lead_of`` answers which lead a contact is on."""

    now: Callable[[], str]
    lead_of: Callable[[str, str], str]
    lead_exists: Callable[[str, str], bool]
    notes: dict[str, NoteActivity] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.notes.clear()

    def create(self, org_id: str, user_id: str, payload: Mapping[str, Any]) -> NoteActivity:
        _refuse_unknown(payload)
        lead_id = payload.get("lead_id")
        if not lead_id:
            raise invalid(field_errors={"lead_id": "This field is required."})
        if not self.lead_exists(org_id, str(lead_id)):
            raise invalid(field_errors={"lead_id": "Object does not exist."})
        contact_id = payload.get("contact_id")
        if contact_id is not None:
            self._check_contact(org_id, str(lead_id), str(contact_id))
        note, note_html = _text(payload) or ("", "")
        now = self.now()
        at = _moment(payload["activity_at"]) if payload.get("activity_at") else now
        created = NoteActivity(
            id=f"acti_{secrets.token_urlsafe(32)[:43]}",
            organization_id=org_id,
            lead_id=str(lead_id),
            contact_id=str(contact_id) if contact_id is not None else None,
            user_id=user_id,
            note=note,
            note_html=note_html,
            activity_at=at,
            date_created=now,
            date_updated=now,
        )
        with self.lock:
            self.notes[created.id] = created
        return created

    def update(self, org_id: str, note_id: str, payload: Mapping[str, Any]) -> NoteActivity:
        _refuse_unknown(payload)
        found = self.get(org_id, note_id)
        if "lead_id" in payload and str(payload["lead_id"]) != found.lead_id:
            raise invalid(field_errors={"lead_id": "An activity cannot move to another lead."})
        if payload.get("contact_id") is not None:
            self._check_contact(org_id, found.lead_id, str(payload["contact_id"]))
        text = _text(payload)
        with self.lock:
            if text is not None:
                found.note, found.note_html = text
            if payload.get("activity_at"):
                found.activity_at = _moment(payload["activity_at"])
            if payload.get("contact_id") is not None:
                found.contact_id = str(payload["contact_id"])
            found.date_updated = self.now()
        return found

    def get(self, org_id: str, note_id: str) -> NoteActivity:
        with self.lock:
            found = self.notes.get(note_id)
        if found is None or found.organization_id != org_id:
            raise not_found("Activity")
        return found

    def _check_contact(self, org_id: str, lead_id: str, contact_id: str) -> None:
        try:
            on = self.lead_of(org_id, contact_id)
        except Exception:
            raise invalid(field_errors={"contact_id": "Object does not exist."}) from None
        if on != lead_id:
            raise invalid(field_errors={"contact_id": "The contact is not on this lead."})


def _refuse_unknown(payload: Mapping[str, Any]) -> None:
    unknown = sorted(set(payload) - WRITABLE)
    if unknown:
        raise invalid(field_errors={name: "Unknown field." for name in unknown})
