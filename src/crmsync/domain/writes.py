"""What a write is, on its way to the CRM and back: the plan for one record, the record write a
connector sends, and the outcome it reports (with the record it moved to, if it did)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crmsync.domain.enums import AliasReason
from crmsync.domain.outcomes import Resolution


@dataclass(frozen=True)
class Plan:
    """``send`` is empty when nothing needs writing; ``reason`` says why. ``ignored``: the
    export mode, not the values, held the write back."""

    send: dict[str, Any]
    first_write: bool
    reason: str = ""
    ignored: bool = False

    @property
    def unchanged(self) -> bool:
        return not self.send


@dataclass(frozen=True)
class RecordWrite:
    """One record to write: CRM field values, already mapped. ``crm_id`` when known.

    ``local_id`` is the app record's id: for contacts, the Person ID, which connectors also
    write as the match key."""

    local_id: str
    fields: dict[str, Any]
    crm_id: str | None = None
    first_write: bool = True
    create_may_have_landed: bool = False
    """An earlier attempt to create this record lost its response: look before creating."""


@dataclass(frozen=True)
class ConversationWrite:
    """One conversation to write as a CRM record of its own, linked to its contact's record
    (``contact_crm_id``, a ``contact_object`` record: a Lead, a Contact). ``crm_id`` is the
    conversation's own CRM record once written: an update changes that record in place."""

    local_id: str
    contact_crm_id: str
    contact_object: str
    channel: str
    """email | sms | call | chat | note"""
    direction: str
    """inbound | outbound"""
    subject: str
    body: str
    occurred_at: str
    """ISO 8601, UTC (``2026-12-04T10:00:00Z``)."""
    crm_id: str | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """The record the write landed in is not the one the link held: ``crm_id`` is now a
    ``crm_object`` record (a converted lead's contact), the old id becomes the link's alias."""

    crm_object: str
    from_object: str
    from_id: str
    reason: AliasReason


@dataclass(frozen=True)
class WriteOutcome:
    """What happened to one RecordWrite (``local_id`` is the write's). ``resolution`` is set
    when it did not land; ``moved`` when it landed in another record than the link's."""

    local_id: str
    created: bool = False
    crm_id: str | None = None
    resolution: Resolution | None = None
    response_summary: dict[str, Any] = field(default_factory=dict)
    moved: Moved | None = None

    @property
    def ok(self) -> bool:
        return self.resolution is None
