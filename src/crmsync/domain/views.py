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
    backfill: BackfillProgress
    queue: dict[str, int]
    recommendations: tuple[str, ...] = ()
    setup: SetupState = field(default_factory=SetupState)
    sync: ReadBack | None = None
