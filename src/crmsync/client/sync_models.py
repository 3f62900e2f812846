"""The client's models of the two-way half of the API: the change feed, webhooks, the org's
view of a record, field mappings and the preview (re-exported by ``crmsync.client.models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from crmsync.client._base import _Answer, _Sent

Canonical = Literal["app", "crm"]
"""The system whose value wins for a mapped field."""
FieldType = Literal[
    "text", "number", "boolean", "date", "datetime", "picklist", "multi_picklist", "user", "key"
]


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
