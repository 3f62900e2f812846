"""What the client sends and what it returns, as typed models of the API's bodies.

They are the client's own, not the service's schemas, so a host application imports no
server code. Validation stays with the service (one set of rules, answered with a 422);
request models only refuse unknown fields, response models ignore fields added later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
Canonical = Literal["app", "crm"]
"""The system whose value wins for a mapped field."""
FieldType = Literal[
    "text", "number", "boolean", "date", "datetime", "picklist", "multi_picklist", "user", "key"
]


class _Sent(BaseModel):
    """A request body: a misspelt field fails here, not silently on the service."""

    model_config = ConfigDict(extra="forbid")


class _Answer(BaseModel):
    """A response body: fields the service adds later are ignored, not an error."""

    model_config = ConfigDict(extra="ignore", frozen=True)


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


# -- two-way sync: the change feed, webhooks, the org's view of a record ---------------


class ChangeOwner(_Answer):
    user_id: str | None
    crm_user_email: str | None


class Change(_Answer):
    """One change of an org's record, as the feed lists it and a webhook's body carries it."""

    seq: int
    entity: str
    record_id: str
    person_id: str | None
    kind: Literal["created", "updated", "deactivated", "reactivated", "owner_changed"]
    fields: dict[str, Any]
    owner: ChangeOwner
    at: str


class ChangesPage(_Answer):
    """A page of the feed; pass ``next`` as ``after`` next time."""

    changes: list[Change]
    next: int


class Webhook(_Answer):
    """An endpoint of the host's; ``secret`` verifies ``Crmsync-Signature``."""

    id: str
    url: str
    secret: str


class WebhookDeleted(_Answer):
    id: str
    pending_dropped: int


class Delivery(_Answer):
    """One change sent to one endpoint; ``id`` is the ``Crmsync-Delivery`` header."""

    id: int
    change_seq: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class RecordField(_Answer):
    value: Any
    owner: str
    changed_at: dict[str, str]


class Record(_Answer):
    """The org's view of a record: each mapped field's value and whose it is."""

    entity: str
    record_id: str
    active: bool
    owner: ChangeOwner
    fields: dict[str, RecordField]


# -- mappings ------------------------------------------------------------------------------


class CustomField(_Sent):
    """A custom app field the host declares for its org (``options``: a picklist's values)."""

    name: str
    label: str
    type: FieldType
    options: list[str] = Field(default_factory=list)


class FieldMapping(_Sent):
    """One app field to one CRM field, and the system whose value wins (``kind``, when given,
    must be the app field's type)."""

    app_field: str
    crm_field: str
    canonical: Canonical
    kind: FieldType | None = None


class ObjectMapping(_Sent):
    """Every field mapping of one object mapping (``local_object``: e.g. ``contact``)."""

    local_object: str
    fields: list[FieldMapping]


class AppField(_Answer):
    """A field of the org's records: a person's, or a custom one; ``why`` it is not mappable."""

    name: str
    label: str
    type: str
    custom: bool
    options: list[str]
    mappable: bool
    why: str


class CrmField(_Answer):
    name: str
    label: str
    type: str
    custom: bool
    read_only: bool
    options: list[str]


class CrmFields(_Answer):
    """The CRM's field catalogue; ``checked`` False when the CRM cannot describe its fields."""

    provider: str
    crm_object: str
    checked: bool
    fetched_at: datetime | None
    fields: list[CrmField]


class MappedField(_Answer):
    """A saved field mapping; ``fixed`` for the ID rows (required, unchangeable)."""

    app_field: str
    crm_field: str
    canonical: Canonical
    kind: str
    identity: bool
    fixed: bool
    custom_in_crm: bool | None

    def sent(self) -> FieldMapping:
        """As a ``FieldMapping`` to send back (change it, then ``save_mappings``)."""
        return FieldMapping(
            app_field=self.app_field, crm_field=self.crm_field, canonical=self.canonical
        )


class MappedObject(_Answer):
    local_object: str
    crm_object: str
    direction: str
    fields: list[MappedField]


class Mappings(_Answer):
    connection_id: str
    provider: str
    crm_fields_checked: bool
    note: str
    objects: list[MappedObject]


class MappingChange(_Answer):
    """What one saved difference does from the next sync on."""

    local_object: str
    app_field: str
    change: Literal["added", "removed", "now_app", "now_crm", "crm_field_changed"]
    effect: str


class MappingsSaved(_Answer):
    """The saved mappings, what the next sync will do, and what a full sync would."""

    mappings: Mappings
    changes: list[MappingChange]
    summary: str
    full_sync: str


class FieldPreview(_Answer):
    """One field of a preview: the incoming (import) or outgoing (export) value and what the
    run does with it (import: taken | written_back | unchanged | not_read; export: sent |
    not_sent)."""

    app_field: str
    crm_field: str
    value: Any = None
    outcome: str
    reason: str


class Preview(_Answer):
    """What one import or export would do (or, with ``run``, did): ``status`` is inserted,
    updated, unchanged, ignored, deactivated, upserted or failed, with the ``reason`` (the
    ownership rule or mode that decided it)."""

    direction: str
    status: str
    reason: str
    mode: str
    crm_id: str | None = None
    person_id: str | None = None
    fields: list[FieldPreview] = Field(default_factory=list)
    ran: bool = False
    operation_id: int | None = None
    result: dict[str, Any] = Field(default_factory=dict)
