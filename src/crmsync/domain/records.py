"""Records as a CRM holds them, and the changes it reports: what a connector's read half
returns (``Connector.read``, ``read_changes``, ``describe_fields``).

Values are keyed by the CRM's own field names (those the field mappings name); stamps are the
CRM's own, as it gives them, never crmsync's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Capability(StrEnum):
    """One half of the connector contract; a connector declares those it implements and the
    conformance suite runs exactly those."""

    WRITE = "write"
    """``push``: create and update records."""
    READ = "read"
    """``read(ids, fields)``: records by CRM id."""
    READ_CHANGES = "read_changes"
    """``read_changes(cursor, fields)``: what changed since a cursor of the CRM's own."""
    DESCRIBE_FIELDS = "describe_fields"
    """``describe_fields()``: the CRM's field catalogue, custom fields included."""
    WEBHOOKS = "webhooks"
    """``webhook_hints(request, settings)``: the CRM notifies changes; a hint, never truth."""
    CONVERSATIONS = "conversations"
    """``push_conversations``: conversations written as CRM records linked to the contact's."""


class FieldKind(StrEnum):
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    REFERENCE = "reference"
    """An id of another record (an owner, a parent company)."""
    OTHER = "other"


@dataclass(frozen=True)
class FieldDescription:
    name: str
    label: str
    kind: FieldKind
    custom: bool = False
    read_only: bool = False
    options: tuple[str, ...] = ()
    """A picklist's values."""


@dataclass(frozen=True)
class RemoteRecord:
    """One record as the CRM holds it now."""

    crm_id: str
    fields: dict[str, Any] = field(default_factory=dict)
    modified_at: str | None = None
    """The CRM's own modification stamp, as the CRM writes it."""
    archived: bool = False
    """Deleted or archived in the CRM (a tombstone, where the CRM still shows it)."""


class ChangeKind(StrEnum):
    UPSERTED = "upserted"
    """Created or updated: ``record`` holds its values now."""
    DELETED = "deleted"
    """Deleted or archived in the CRM."""
    MERGED = "merged"
    """Merged into ``merged_into``, which survives."""


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    crm_id: str
    stamp: str
    """The CRM's own stamp of this change (what the cursor advances over)."""
    record: RemoteRecord | None = None
    changed_fields: frozenset[str] | None = None
    """The fields the CRM says changed, where it says (None: it does not say)."""
    origin: str | None = None
    """Who made the change, as the CRM tells it (a user id, an integration's source id)."""
    merged_into: str | None = None
    echo: bool = False
    """crmsync's own write coming back, as the CRM marks it (its origin is this integration)."""


@dataclass(frozen=True)
class ChangeHint:
    """A CRM's notice that a record changed (a webhook event): a hint to refetch the record,
    never its values. The engine dedupes by ``event_id``; order is not guaranteed."""

    crm_id: str
    kind: ChangeKind
    event_id: str
    occurred_at: str
    """The CRM's own time of the change, as it gives it."""
    origin: str | None = None
    changed_field: str | None = None
    merged_into: str | None = None
    echo: bool = False
    """crmsync's own write, as the CRM marks it."""
    account_id: str | None = None
    """The CRM account the event is about (a HubSpot portal): which connection it is for."""


@dataclass(frozen=True)
class WebhookRequest:
    """A CRM's webhook call as it arrived, for the connector to verify and read."""

    method: str
    uri: str
    """The full URI the CRM called (what it signed)."""
    body: bytes
    headers: dict[str, str]
    """Header names lower-cased."""
    now_ms: int


@dataclass(frozen=True)
class ChangePage:
    """One read of changes. ``cursor`` is the position to read from next time, in the CRM's
    own terms; the engine saves it only once the changes before it are committed."""

    changes: list[Change]
    cursor: str | None
    more: bool = False
    """More changes are ready now: read again from ``cursor`` at once."""
    full_sync_needed: bool = False
    """The cursor is older than what the CRM keeps (e.g. Salesforce's deletes, 15 days):
    changes may have been lost, so reconcile in full, then read on from ``cursor`` (None:
    from the start)."""

    @classmethod
    def of_records(cls, records: list[RemoteRecord], since: str | None, more: bool) -> ChangePage:
        """A page of records read in stamp order: each one upserted, and the cursor at the
        last one's stamp (``since`` when none came)."""
        changes = [
            Change(ChangeKind.UPSERTED, r.crm_id, r.modified_at or "", record=r) for r in records
        ]
        last = records[-1].modified_at if records else None
        return cls(changes, cursor=last or since, more=more)
