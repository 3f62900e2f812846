"""The states and kinds the whole product speaks of; the database stores their values."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    SETUP_REQUIRED = "setup_required"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class Lane(StrEnum):
    """Work lanes, in priority order."""

    LIVE = "live"
    REFRESH = "refresh"
    BACKFILL = "backfill"


LANE_PRIORITY: MappingProxyType[Lane, int] = MappingProxyType(
    {Lane.LIVE: 0, Lane.REFRESH: 1, Lane.BACKFILL: 2}
)


class WorkStatus(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"


class AliasReason(StrEnum):
    """Why a link answers to another CRM id too."""

    MERGED = "merged"
    CONVERTED = "converted"


class OpStatus(StrEnum):
    PENDING = "pending"
    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRYING = "retrying"
    WAITING_RECONNECT = "waiting_reconnect"
    SUPERSEDED = "superseded"
    """A newer change of the person took over before this attempt landed."""


class Direction(StrEnum):
    """Which ways an object mapping syncs: PUSH writes the CRM, PULL reads it back, BOTH."""

    PUSH = "push"
    PULL = "pull"
    BOTH = "both"
    NONE = "none"


class FeedKind(StrEnum):
    """What the host is told happened to a record in its change feed
    (``GET /orgs/{org}/changes``, webhook deliveries); not a CRM's ``ChangeKind``."""

    CREATED = "created"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    OWNER_CHANGED = "owner_changed"


class System(StrEnum):
    """The system whose value wins for a field (its source of truth)."""

    APP = "app"
    CRM = "crm"
