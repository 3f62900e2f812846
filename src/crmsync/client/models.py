"""What the client sends and what it returns, as typed models of the API's bodies.

They are the client's own, not the service's schemas, so a host application imports no
server code. Validation stays with the service (one set of rules, answered with a 422);
request models only refuse unknown fields, response models ignore fields added later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from crmsync.client._base import _Answer, _Sent
from crmsync.client.sync_models import (
    AppField,
    Canonical,
    Change,
    ChangeOwner,
    ChangesPage,
    CrmField,
    CrmFields,
    CustomField,
    Delivery,
    FieldMapping,
    FieldPreview,
    FieldType,
    MappedField,
    MappedObject,
    MappingChange,
    Mappings,
    MappingsSaved,
    ObjectMapping,
    Preview,
    Record,
    RecordField,
    Webhook,
    WebhookDeleted,
)

__all__ = [
    "AppField",
    "Authorization",
    "BackfillProgress",
    "Canonical",
    "Change",
    "ChangeOwner",
    "ChangesPage",
    "Connection",
    "Conversation",
    "ConversationsAccepted",
    "CrmField",
    "CrmFields",
    "CustomField",
    "Delivery",
    "FieldMapping",
    "FieldPreview",
    "FieldType",
    "Health",
    "MappedField",
    "MappedObject",
    "MappingChange",
    "Mappings",
    "MappingsSaved",
    "Message",
    "ObjectMapping",
    "Operation",
    "Org",
    "PeopleSaved",
    "Person",
    "PersonSaved",
    "PersonSync",
    "Preview",
    "Record",
    "RecordField",
    "Role",
    "SetupState",
    "SyncCounts",
    "Unlock",
    "UnlocksAccepted",
    "User",
    "Webhook",
    "WebhookDeleted",
]

Role = Literal["admin", "member"]


class Person(_Sent):
    """A person's values, as the host has them; ``PUT`` stores what is sent."""

    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] = Field(default_factory=list)
    phones: list[str] = Field(default_factory=list)
    company: str | None = None
    title: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    linkedin_url: str | None = None
    profile_url: str | None = None


class Unlock(_Sent):
    """A user of the org unlocked a person."""

    person_id: str
    unlocked_by: str


class PersonSaved(Person):
    """A stored person, and whether the change was pushed anywhere."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    person_id: str
    changed: bool = False
    orgs_notified: int = 0


class PeopleSaved(_Answer):
    accepted: int
    created: int
    changed: int
    unchanged: int
    queued: int
    orgs_notified: int


class Org(_Answer):
    id: str
    name: str


class User(_Answer):
    id: str
    org_id: str
    email: str
    name: str
    role: str
    disabled: bool = False


class Conversation(_Sent):
    """A conversation the host had with a person on the org's behalf; its ``id`` is the
    host's: sending it again updates it (``occurred_at`` with its UTC offset)."""

    id: str
    person_id: str
    channel: Literal["email", "sms", "call", "chat", "note"]
    direction: Literal["inbound", "outbound"]
    occurred_at: datetime
    subject: str = ""
    body: str = ""


class ConversationsAccepted(_Answer):
    accepted: int
    created: int
    updated: int
    unchanged: int
    contacts_queued: int


class UnlocksAccepted(_Answer):
    accepted: int
    new: int
    queued: int


class Provider(_Answer):
    """A CRM this crmsync offers: the options a connection takes and, for an organisation's
    own OAuth app (``own_app``), the callback URL that app must have registered."""

    name: str
    display_name: str
    callback_url: str
    connection_options: list[str]
    own_app: bool


class Authorization(_Answer):
    """Where to send the org's admin (a popup) to authorise the CRM, and until when."""

    authorize_url: str
    state_expires_at: datetime


class SyncCounts(_Answer):
    synced: int
    pending: int
    failed: int
    skipped: int


class BackfillProgress(_Answer):
    total: int
    done: int
    remaining: int
    estimated_seconds: float | None


class SetupState(_Answer):
    missing: list[str] = Field(default_factory=list)
    created: list[str] = Field(default_factory=list)
    message: str = ""


class ReadBack(_Answer):
    """Two-way sync: how the connection reads its CRM back."""

    two_way: bool
    interval_minutes: int
    next_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_full_sync_at: datetime | None = None
    last_error: str | None = None
    last_report: dict[str, int] = Field(default_factory=dict)


class PushSettings(_Answer):
    """What pushes the connection's contacts: ``enabled`` False pauses every push (the work
    stays queued); an unlock pushes unless ``on_unlock`` is False; a reported score at or
    above ``score_threshold`` pushes, once per crossing (None: off)."""

    enabled: bool = True
    on_unlock: bool = True
    score_threshold: float | None = None


class Triggered(_Answer):
    """What a push trigger did (a manual push, a score, a to-do)."""

    queued: bool
    detail: str


class Connection(_Answer):
    """An org's CRM connection: its state, counts, backfill progress and options."""

    id: str
    org_id: str
    provider: str
    provider_name: str
    status: str
    status_reason: str | None
    connected_at: datetime
    account_id: str | None
    account_label: str | None
    skip_backfill: bool
    preserve_manual_edits: bool
    settings: dict[str, Any]
    import_mode: str = "match_existing"
    export_mode: str = "all"
    counts: SyncCounts
    backfill: BackfillProgress
    queue: dict[str, int]
    recommendations: list[str] = Field(default_factory=list)
    setup: SetupState = Field(default_factory=SetupState)
    sync: ReadBack | None = None
    conversations_enabled: bool = False
    push: PushSettings = Field(default_factory=PushSettings)


class Operation(_Answer):
    """One attempted write to the CRM: a row of the integration log."""

    id: int
    connection_id: str
    provider: str
    person_id: str
    lane: str
    status: str
    reason: str
    code: str | None = None
    crm_id: str | None
    attempts: int
    retry_of: int | None
    request_summary: dict[str, Any]
    response_summary: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    entity: str = "contact"


class PersonSync(_Answer):
    """Where one person stands in the org's CRM."""

    person_id: str
    provider: str
    status: str
    crm_id: str | None
    crm_url: str | None
    last_synced_at: datetime | None
    queued: bool
    last_operation: Operation | None


class Message(_Answer):
    """An answer in words (a disconnect, a retry queued)."""

    detail: str


class Health(_Answer):
    status: str
