"""What the services answer with: plain values the host API turns into its schemas and the
admin UI renders, so neither the services nor the admin UI depend on the API's schemas."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class OperationEntry:
    """One row of the integration log, labelled with the CRM of the connection it wrote to."""

    id: int
    connection_id: str
    provider: str
    person_id: str
    lane: str
    status: str
    reason: str
    code: str | None
    crm_id: str | None
    attempts: int
    retry_of: int | None
    request_summary: dict[str, Any]
    response_summary: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    entity: str = "contact"
    """The record's object type (``contact``, ``conversation``); ``person_id`` is its id."""


@dataclass(frozen=True)
class ImportEntry:
    """One change a connection took in from its CRM (the change feed's entry), for the log's
    imports: the record, what happened to it, and the fields that came in."""

    seq: int
    connection_id: str
    entity: str
    record_id: str
    kind: str
    fields: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class PersonSync:
    """Where one person stands on the org's connection."""

    person_id: str
    provider: str
    status: str
    crm_id: str | None
    crm_url: str | None
    last_synced_at: datetime | None
    queued: bool
    last_operation: OperationEntry | None


@dataclass(frozen=True)
class SyncCounts:
    synced: int
    pending: int
    failed: int
    skipped: int


@dataclass(frozen=True)
class BackfillProgress:
    total: int
    done: int
    remaining: int
    estimated_seconds: float | None


@dataclass(frozen=True)
class SetupState:
    """The last setup check: the custom fields missing, and those crmsync created."""

    missing: tuple[str, ...] = ()
    created: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class PushSettings:
    """What pushes a connection's contacts: its switch, and its triggers besides the manual
    one and the schedule (a changed person refreshes what is in the CRM)."""

    enabled: bool = True
    on_unlock: bool = True
    score_threshold: float | None = None


@dataclass(frozen=True)
class ReadBack:
    """How a connection reads its CRM back (two-way sync)."""

    two_way: bool
    interval_minutes: int
    next_run_at: datetime | None = None
    last_success_at: datetime | None = None
    last_full_sync_at: datetime | None = None
    last_error: str | None = None
    last_report: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectionState:
    """An org's connection as its card and ``GET /connection`` show it."""

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
    counts: SyncCounts
    import_mode: str
    export_mode: str
    backfill: BackfillProgress
    queue: dict[str, int]
    recommendations: tuple[str, ...] = ()
    setup: SetupState = field(default_factory=SetupState)
    sync: ReadBack | None = None
    conversations_enabled: bool = False
    push: PushSettings = field(default_factory=PushSettings)


@dataclass(frozen=True)
class AppFieldView:
    """One field of the org's records: a person field, or one the host declared (``custom``).
    ``mappable`` is False, with ``why``, for a field no CRM field can hold (several values)."""

    name: str
    label: str
    kind: str
    custom: bool
    options: tuple[str, ...] = ()
    mappable: bool = True
    why: str = ""


@dataclass(frozen=True)
class CrmFieldView:
    """One field of the CRM's catalogue, as ``describe_fields`` gave it."""

    name: str
    label: str
    kind: str
    custom: bool
    read_only: bool
    options: tuple[str, ...]


@dataclass(frozen=True)
class CrmCatalogue:
    """The CRM's fields for one object; ``checked`` False when the connector cannot describe
    them (then ``fields`` is empty and CRM field names are taken as given)."""

    provider: str
    crm_object: str
    checked: bool
    fields: tuple[CrmFieldView, ...]
    fetched_at: datetime | None


@dataclass(frozen=True)
class FieldMappingView:
    """One mapped field. ``fixed``: an ID row that is required and cannot change."""

    app_field: str
    crm_field: str
    canonical: str
    kind: str
    identity: bool
    fixed: bool
    custom_in_crm: bool | None
    """Whether the CRM field is one of the CRM's custom fields (None: not known)."""


@dataclass(frozen=True)
class ObjectMappingView:
    local_object: str
    crm_object: str
    direction: str
    fields: tuple[FieldMappingView, ...]


@dataclass(frozen=True)
class MappingsView:
    connection_id: str
    provider: str
    crm_fields_checked: bool
    """False when the CRM cannot describe its fields: names are accepted as given."""
    objects: tuple[ObjectMappingView, ...]
    note: str = ""


@dataclass(frozen=True)
class MappingChange:
    """What one saved difference does from the next sync on."""

    local_object: str
    app_field: str
    change: str
    """added, removed, now_app, now_crm or crm_field_changed."""
    effect: str


@dataclass(frozen=True)
class SavedMappings:
    mappings: MappingsView
    changes: tuple[MappingChange, ...]
    summary: str
    full_sync: str
    """What a full sync (``POST …/connection/sync {"full": true}``) would do on top."""


@dataclass(frozen=True)
class Triggered:
    """What a trigger did: the connection it queued the contact on (None: not queued)."""

    connection_id: str | None
    reason: str
