"""Call, email and meeting activities and lead tasks: what each kind's fields are.

* Calls (``/activity/call/``): ``direction`` (``inbound``/``outbound``), ``duration`` (whole
  seconds), ``phone``, ``status`` (default ``completed``: a call made elsewhere; the other
  statuses accepted here are unconfirmed), ``note`` / ``note_html`` (setting one overwrites the
  other, ``note_html`` winning), ``recording_url`` (must start with ``https://``).
* Emails (``/activity/email/``): ``direction`` (``incoming``/``outgoing``), ``status``
  (required: ``inbox``, ``draft``, ``scheduled``, ``outbox``, ``sent``; the emulator sends
  nothing), ``subject``, ``body_text``, ``body_html``, ``sender``, ``to``/``cc``/``bcc`` (lists
  of addresses), ``date_scheduled``; ``email_rules`` holds what Close documents beyond each
  field (the sender Close fills in for a ``sent`` email without one is not filled in here).
* Meetings (``/activity/meeting/``): come from calendar sync in Close, whose API reads,
  updates and deletes them but has no create (third-party meeting integrations are a separate
  OAuth-only API the emulator does not have); the harness seeds them. ``PUT`` may set ``title``
  and ``note`` (which fields Close lets a PUT change is unconfirmed).
* Tasks (``/task/``, ``_type`` ``lead``): ``lead_id``, ``assigned_to`` (a member; default the
  caller), ``text`` (required), ``date`` (a date or datetime), ``is_complete``.

Every kind has ``lead_id`` (required, and an activity does not move by ``PUT``), ``contact_id``
(a contact of that lead; not on tasks), ``user_id`` and ``activity_at`` (activities) and the
dates. Unknown keys are refused with Close's 400.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.close.emulator import checks

Parser = Callable[[Any, Collection[str]], Any]
"""(value, the organisation's members) → the stored value, or ValueError."""

CALL_STATUSES = (
    "completed",
    "in-progress",
    "ringing",
    "no-answer",
    "busy",
    "failed",
    "canceled",
    "timeout",
)
EMAIL_STATUSES = ("inbox", "draft", "scheduled", "outbox", "sent")
_TAGS = re.compile(r"<[^>]+>")


def _addresses(value: Any, members: Collection[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and "@" in v for v in value):
        raise ValueError("Must be a list of email addresses.")
    return list(value)


def _secure_url(value: Any, members: Collection[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("https://"):
        raise ValueError("The recording URL must be secure (start with https://).")
    return value


def _attendees(value: Any, members: Collection[str]) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValueError("Must be a list of attendee objects.")
    return [dict(v) for v in value]


def _plain(parse: Callable[[Any], Any]) -> Parser:
    return lambda value, members: parse(value)


@dataclass(frozen=True)
class Kind:
    name: str
    """``call``, ``email``, ``meeting``, ``task``."""
    type_name: str
    """``_type``: ``Call``, ``Email``, ``Meeting``; ``lead`` for tasks."""
    object_type: str
    """The event log's ``object_type``."""
    id_prefix: str
    parsers: Mapping[str, Parser]
    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    creatable: bool = True
    has_contact: bool = True
    note_pair: bool = False
    """``note`` and ``note_html`` derive each other (calls)."""


TEXT = _plain(checks.text)
OPTIONAL_TEXT = _plain(checks.optional_text)

CALL = Kind(
    "call",
    "Call",
    "activity.call",
    "acti_",
    {
        "direction": _plain(lambda v: checks.one_of(v, ("inbound", "outbound"))),
        "duration": _plain(lambda v: checks.integer(v, 0)),
        "phone": TEXT,
        "status": _plain(lambda v: checks.one_of(v, CALL_STATUSES)),
        "note": TEXT,
        "note_html": TEXT,
        "recording_url": _secure_url,
    },
    defaults={"direction": "outbound", "duration": 0, "status": "completed", "phone": None},
    note_pair=True,
)
EMAIL = Kind(
    "email",
    "Email",
    "activity.email",
    "acti_",
    {
        "direction": _plain(lambda v: checks.one_of(v, ("incoming", "outgoing"))),
        "status": _plain(lambda v: checks.one_of(v, EMAIL_STATUSES)),
        "subject": TEXT,
        "body_text": TEXT,
        "body_html": TEXT,
        "sender": TEXT,
        "to": _addresses,
        "cc": _addresses,
        "bcc": _addresses,
        "date_scheduled": _plain(checks.moment),
    },
    required=("status",),
    defaults={"direction": "outgoing", "subject": "", "body_text": "", "to": [], "cc": []},
)
MEETING = Kind(
    "meeting",
    "Meeting",
    "activity.meeting",
    "acti_",
    {
        "title": TEXT,
        "note": TEXT,
        "starts_at": _plain(checks.moment),
        "ends_at": _plain(checks.moment),
        "attendees": _attendees,
        "status": TEXT,
    },
    defaults={"title": "", "note": "", "attendees": [], "status": "completed"},
    creatable=False,
)
MEETING_UPDATABLE = frozenset({"title", "note"})
TASK = Kind(
    "task",
    "lead",
    "task.lead",
    "task_",
    {
        "assigned_to": checks.member,
        "text": TEXT,
        "date": _plain(checks.day_or_moment),
        "is_complete": _plain(checks.boolean),
    },
    required=("text",),
    defaults={"is_complete": False, "date": None},
    has_contact=False,
)
KINDS = {kind.name: kind for kind in (CALL, EMAIL, MEETING, TASK)}


SENDER_NEEDED = ("inbox", "scheduled", "outbox")


def email_rules(payload: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, str]:
    """What Close documents for emails beyond each field: ``sender`` is required for
    ``inbox``, ``scheduled`` and ``outbox``; ``scheduled`` needs ``date_scheduled``; only a
    draft can be modified (its status may become ``scheduled`` or ``outbox``), and a scheduled
    or unsent outbox email can go back to ``draft``."""
    errors: dict[str, str] = {}
    was = dict(current or {})
    if current is not None:
        back_to_draft = was.get("status") in ("scheduled", "outbox") and set(payload) == {"status"}
        if was.get("status") != "draft" and not (
            back_to_draft and payload.get("status") == "draft"
        ):
            return {"status": "Only draft emails can be modified."}
    status = payload.get("status", was.get("status"))
    if status in SENDER_NEEDED and not (payload.get("sender") or was.get("sender")):
        errors["sender"] = f"This field is required for {status} emails."
    if status == "scheduled" and not (payload.get("date_scheduled") or was.get("date_scheduled")):
        errors["date_scheduled"] = "This field is required for scheduled emails."
    return errors


def note_pair(payload: Mapping[str, Any]) -> dict[str, str]:
    """``note``/``note_html`` as Close derives one from the other (``note_html`` wins)."""
    if isinstance(payload.get("note_html"), str):
        markup = str(payload["note_html"])
        plain = html.unescape(_TAGS.sub("", markup.replace("<br />", "\n")))
        return {"note": plain, "note_html": markup}
    if isinstance(payload.get("note"), str):
        plain = str(payload["note"])
        return {"note": plain, "note_html": html.escape(plain).replace("\n", "<br />")}
    return {}


@dataclass
class Logged:
    """One call, email, meeting or task."""

    id: str
    kind: Kind
    organization_id: str
    lead_id: str
    user_id: str
    date_created: str
    date_updated: str
    activity_at: str
    contact_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.kind.type_name

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "_type": self.kind.type_name,
            "id": self.id,
            "organization_id": self.organization_id,
            "lead_id": self.lead_id,
            "date_created": self.date_created,
            "date_updated": self.date_updated,
            "created_by": self.user_id,
            "updated_by": self.user_id,
            **self.values,
        }
        if self.kind.name == "task":
            body["assigned_to"] = self.values.get("assigned_to", self.user_id)
            return body
        body.update(contact_id=self.contact_id, user_id=self.user_id, activity_at=self.activity_at)
        return body
