"""Database tables: push's, then two-way sync's. API schemas live in ``crmsync.api.schemas``,
never here; the states and kinds the tables store are the domain's (``crmsync.domain.enums``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crmsync.db.types import Timestamp
from crmsync.domain.enums import ConnectionStatus, Direction, OpStatus, Role, WorkStatus
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import APP, ValueKind
from crmsync.domain.modes import ExportMode, ImportMode


def utcnow() -> datetime:
    return datetime.now(UTC)


def naive_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; compare everything as naive UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON, datetime: Timestamp()}


class Org(Base):
    __tablename__ = "orgs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default=Role.MEMBER)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Every browser session carries the generation it was signed in at; signing out, a new
    # password or disabling the user moves it on, which ends all sessions issued before.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Person(Base):
    """The host's record of a person; shared across orgs."""

    __tablename__ = "people"
    person_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    emails: Mapped[list[str]] = mapped_column(default=list)
    phones: Mapped[list[str]] = mapped_column(default=list)
    company: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str | None] = mapped_column(String(200))
    zip: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(200))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))
    profile_url: Mapped[str | None] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Unlock(Base):
    """An org's user unlocked a person; the first unlocker of an org is the owner."""

    __tablename__ = "unlocks"
    __table_args__ = (UniqueConstraint("org_id", "person_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    unlocked_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_unlocks_org_person", Unlock.org_id, Unlock.person_id, Unlock.id)


class Conversation(Base):
    """A conversation the host had with a person on behalf of an org (``POST
    /orgs/{org}/conversations``), keyed by the host's id within the org."""

    __tablename__ = "conversations"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.person_id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    occurred_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Connection(Base):
    """An org's link to one CRM. The app↔CRM product allows one active connection per org
    (``services.connections`` enforces it); the table does not, for CRM-to-CRM."""

    __tablename__ = "connections"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    provider: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=ConnectionStatus.CONNECTED)
    status_reason: Mapped[str | None] = mapped_column(Text)
    connected_at: Mapped[datetime] = mapped_column(default=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column()
    skip_backfill: Mapped[bool] = mapped_column(Boolean, default=False)
    preserve_manual_edits: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    account_id: Mapped[str | None] = mapped_column(String(200))
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    owner_cache: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owners_fetched_at: Mapped[datetime | None] = mapped_column()
    setup_checked_at: Mapped[datetime | None] = mapped_column()
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    backfill_total: Mapped[int] = mapped_column(Integer, default=0)
    sync_interval_minutes: Mapped[int] = mapped_column(Integer, default=15, server_default="15")
    """How often changes are read back from the CRM (10 minutes to 24 hours)."""
    conversations_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    """The host's conversations are exported to this CRM (off by default)."""
    import_mode: Mapped[str] = mapped_column(
        String(32), default=ImportMode.MATCH_EXISTING, server_default=ImportMode.MATCH_EXISTING
    )
    """Which CRM records reach the app (``domain.modes.ImportMode``)."""
    export_mode: Mapped[str] = mapped_column(
        String(32), default=ExportMode.ALL, server_default=ExportMode.ALL
    )
    """What a push writes into the CRM (``domain.modes.ExportMode``)."""
    push_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    """False: every push waits, queued, until it is true again (reads back go on)."""
    push_on_unlock: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    """An unlock pushes the contact (the default); False pushes only on the other triggers."""
    push_score_threshold: Mapped[float | None] = mapped_column(Float)
    """A reported score at or above this pushes the contact, once per crossing (None: off)."""


class Flow(Base):
    """What syncs between two endpoints of one org: ``source`` (``domain.mapping.APP`` or a
    connection id) is written into ``target`` (a connection) and read back from it."""

    __tablename__ = "flows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ObjectMapping(Base):
    """Which local object flows to which CRM object of the flow's target, and which way."""

    __tablename__ = "object_mappings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"), index=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), index=True)
    local_object: Mapped[str] = mapped_column(String(40))
    crm_object: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(8), default=Direction.PUSH)


class FieldMapping(Base):
    """One local field to one CRM field: its value kind and the endpoint that owns it."""

    __tablename__ = "field_mappings"
    __table_args__ = (UniqueConstraint("object_mapping_id", "app_field"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    object_mapping_id: Mapped[int] = mapped_column(ForeignKey("object_mappings.id"))
    app_field: Mapped[str] = mapped_column(String(80))
    crm_field: Mapped[str | None] = mapped_column(String(200))
    provided_as: Mapped[str] = mapped_column(String(16))  # standard|equivalent|custom|skipped
    value_kind: Mapped[str] = mapped_column(String(20), default=ValueKind.TEXT)
    source_of_truth: Mapped[str] = mapped_column(String(64), default=APP)
    """An endpoint: ``app`` or the id of the connection whose value wins."""
    identity: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")


class AppField(Base):
    """A custom field the host declared for its org's records, mappable like a person's."""

    __tablename__ = "app_fields"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    value_kind: Mapped[str] = mapped_column(String(20))
    options: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CrmFieldCatalogue(Base):
    """The CRM's field catalogue for one object of a connection (``describe_fields``), kept
    until the admin asks for it again: mappings are checked against it."""

    __tablename__ = "crm_field_catalogues"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    crm_object: Mapped[str] = mapped_column(String(80), primary_key=True)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """Each field as a JSON object: name, label, kind, custom, read_only, options."""
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


def _object_type() -> Mapped[str]:
    return mapped_column(String(40), default=CONTACT, server_default=CONTACT)


class Link(Base):
    """Where a local record lives in a connection's CRM, and what crmsync last wrote there.
    Unique on both sides: one CRM record per local record, one local record per CRM record."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "local_id", name="uq_links_record"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    object_type: Mapped[str] = _object_type()
    local_id: Mapped[str] = mapped_column(String(128))
    crm_object: Mapped[str] = mapped_column(String(80))
    crm_id: Mapped[str | None] = mapped_column(String(200))
    written: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pending_create_at: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_synced_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index(
    "uq_links_crm_record",
    Link.connection_id,
    Link.crm_object,
    Link.crm_id,
    unique=True,
    sqlite_where=text("crm_id IS NOT NULL"),
    postgresql_where=text("crm_id IS NOT NULL"),
)


class LinkAlias(Base):
    """Another CRM id a link answers to: a record merged into the linked one, a converted
    lead whose contact the link now holds."""

    __tablename__ = "link_aliases"
    __table_args__ = (
        UniqueConstraint("connection_id", "crm_object", "crm_id", name="uq_link_aliases_crm"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    crm_object: Mapped[str] = mapped_column(String(80))
    crm_id: Mapped[str] = mapped_column(String(200))
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))  # AliasReason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkItem(Base):
    """The durable outbox: one row per record waiting to be written to a connection."""

    __tablename__ = "work_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    object_type: Mapped[str] = _object_type()
    local_id: Mapped[str] = mapped_column(String(128))
    lane: Mapped[str] = mapped_column(String(10))
    priority: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default=WorkStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    operation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_work_claim", WorkItem.connection_id, WorkItem.status, WorkItem.priority, WorkItem.id)
Index(
    "uq_work_pending",
    WorkItem.connection_id,
    WorkItem.object_type,
    WorkItem.local_id,
    unique=True,
    sqlite_where=text("status = 'pending'"),
    postgresql_where=text("status = 'pending'"),
)
Index(  # claims skip records with an item in flight (outbox._due); status is a column too,
    # so that SQLite's planner, which has no statistics, prefers it to ix_work_claim
    "ix_work_leased_record",
    WorkItem.connection_id,
    WorkItem.object_type,
    WorkItem.local_id,
    WorkItem.status,
    sqlite_where=text("status = 'leased'"),
    postgresql_where=text("status = 'leased'"),
)


class Operation(Base):
    """One attempted write of one record to one connection: the integration log."""

    __tablename__ = "operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(64))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"))
    object_type: Mapped[str] = _object_type()
    local_id: Mapped[str] = mapped_column(String(128))
    lane: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=OpStatus.PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(80))
    crm_id: Mapped[str | None] = mapped_column(String(200))
    request_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_of: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_operations_org_status", Operation.org_id, Operation.status, Operation.id)
Index(
    "ix_operations_conn_record", Operation.connection_id, Operation.object_type, Operation.local_id
)


class OAuthState(Base):
    """An authorisation in flight: binds the state parameter to an org and a PKCE verifier."""

    __tablename__ = "oauth_states"
    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    provider: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(16))  # connect | reconnect
    connection_id: Mapped[str | None] = mapped_column(String(32))
    code_verifier: Mapped[str | None] = mapped_column(String(200))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    session_binding: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column()
    consumed_at: Mapped[datetime | None] = mapped_column()


# Two-way sync: where each read of a CRM stands, the org's view of its records, the change
# feed the host reads, the host's webhook endpoints and their deliveries, CRM events seen.


class SyncState(Base):
    """Where reading one object of one connection stands. ``cursor`` is the CRM's own, saved
    in the transaction that commits the changes it covers."""

    __tablename__ = "sync_states"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    crm_object: Mapped[str] = mapped_column(String(80), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime | None] = mapped_column()
    last_run_at: Mapped[datetime | None] = mapped_column()
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_full_sync_at: Mapped[datetime | None] = mapped_column()
    full_sync_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_report: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The last run's counts (taken, drift, deactivated, ...), for the admin and the host."""


class OrgRecord(Base):
    """One org's view of an app record: the values its CRM owns (a title edited in org A's CRM
    never changes the person for org B), who owns it, and whether it is active."""

    __tablename__ = "org_records"
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), primary_key=True)
    object_type: Mapped[str] = mapped_column(String(40), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Local field → value, for the fields the CRM owns."""
    owner_user_id: Mapped[str | None] = mapped_column(String(64))
    owner_crm_email: Mapped[str | None] = mapped_column(String(320))
    owner_assigned_at: Mapped[datetime | None] = mapped_column()
    """When the host last assigned the owner (a to-do): written until the CRM reassigns it."""
    score: Mapped[float | None] = mapped_column(Float)
    """The score the host last reported for the record in this org (the score trigger)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    changed_at: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Local field → {"app": iso, "crm": iso}: when it last changed on each side."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Change(Base):
    """The durable, ordered feed of what changed on the app side, for the host to read at its
    pace (``seq`` is the cursor) and for webhook deliveries."""

    __tablename__ = "changes"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"))
    connection_id: Mapped[str | None] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_changes_org_seq", Change.org_id, Change.seq)


class WebhookEndpoint(Base):
    """A URL of the host's that receives every change of one org, signed with its secret."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One change to one endpoint: retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("endpoint_id", "change_seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    change_seq: Mapped[int] = mapped_column(ForeignKey("changes.seq"))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index(
    "ix_webhook_deliveries_due",
    WebhookDelivery.next_attempt_at,
    sqlite_where=text("status = 'pending'"),
    postgresql_where=text("status = 'pending'"),
)


class InboundEvent(Base):
    """A CRM webhook event taken in: a hint to read ``crm_id`` again (``processed_at`` None
    until a run has), recognised by its id when the CRM delivers it twice."""

    __tablename__ = "inbound_events"
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    crm_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()


Index(
    "ix_inbound_events_pending",
    InboundEvent.connection_id,
    sqlite_where=text("processed_at IS NULL"),
    postgresql_where=text("processed_at IS NULL"),
)
