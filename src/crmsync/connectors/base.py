"""The connector contract: one subclass per CRM, in its own ``crmsync.providers`` folder."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from crmsync.connectors.http import Allocations, RateBudget, RateBudgets, RetryPolicy
from crmsync.connectors.spec import OWN_APP_OPTIONS, FieldSpec, ProviderSpec, own_app_overrides
from crmsync.domain.records import (
    Capability,
    ChangeHint,
    ChangePage,
    FieldDescription,
    RemoteRecord,
    WebhookRequest,
)
from crmsync.domain.writes import ConversationWrite, RecordWrite, WriteOutcome
from crmsync.errors import InputError


@dataclass(frozen=True)
class AppNames:
    """Names derived from the configured app name, e.g. ``Acme`` / ``acme``."""

    label: str
    slug: str


@dataclass(frozen=True)
class AccountInfo:
    """Who the token belongs to: the CRM account and how to show it."""

    account_id: str
    label: str
    settings: dict[str, Any] = field(default_factory=dict)


SETUP_KEPT = "crm_setup"
"""Key in a connection's settings of what its setup made in the CRM (``SetupReport.kept``);
the connector reads it back from ``ctx.settings``; never shown in the connection's status."""


@dataclass(frozen=True)
class SetupReport:
    ready: bool
    created: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    message: str = ""
    kept: dict[str, Any] = field(default_factory=dict)
    """What the setup made in the CRM for this connection alone that it must remember (a
    webhook subscription's id and signing key): merged into ``settings[SETUP_KEPT]``."""


@dataclass(frozen=True)
class CrmUser:
    id: str
    email: str
    active: bool = True


@dataclass
class ConnectorContext:
    """Everything a connector instance needs for one connection."""

    spec: ProviderSpec
    http: httpx.AsyncClient
    app: AppNames
    account_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    """In-call retries of idempotent requests (timings come from settings)."""
    budgets: RateBudgets = field(default_factory=RateBudgets)
    """The process's rate budgets (the runtime's), shared by every connector of an account."""
    allocations: Allocations = field(default_factory=Allocations)
    """The process's per-account quota state (the runtime's), e.g. a daily API allocation."""
    webhook_url: str | None = None
    """Where this crmsync receives the provider's webhooks, for a connector that subscribes
    itself (Close); None when unknown."""


class Connector(ABC):
    """Speaks one CRM's real API. Raises ``ConnectorError`` subclasses for whole-call problems
    and reports per-record problems in ``WriteOutcome.resolution``.

    Two halves: writing (``push``, every connector) and reading (``read``, ``read_changes``,
    ``describe_fields``), each declared in ``capabilities``; the conformance suite runs the
    halves a connector declares, and the engine calls only those."""

    spec: ClassVar[ProviderSpec]
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.WRITE})
    conversation_object: str = ""
    """The CRM object conversations become (with ``Capability.CONVERSATIONS``); a connector
    whose object's name depends on the connection (the app's prefix) sets it per instance."""
    connection_options: ClassVar[tuple[str, ...]] = ()
    """The options a connection may take when it starts (``POST /connection``'s ``options``):
    ``OWN_APP_OPTIONS`` where the CRM lets an organisation register an OAuth app of its own,
    a login host, ..."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.http = ctx.http

    @classmethod
    @abstractmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        """The default Person → CRM mapping, custom field names derived from the app name."""

    @classmethod
    def oauth_overrides(cls, options: dict[str, str]) -> dict[str, Any]:
        """Spec overrides for one connection's options: the organisation's own OAuth app when
        the connector takes ``OWN_APP_OPTIONS``; unknown options are an InputError. Providers
        with more options (a login host) extend this."""
        unknown = sorted(set(options) - set(cls.connection_options))
        if unknown and not cls.connection_options:
            raise InputError(f"{cls.spec.display_name} takes no connection options")
        if unknown:
            raise InputError(
                f"unknown {cls.spec.display_name} connection option(s) {', '.join(unknown)}; "
                f"known: {', '.join(cls.connection_options)}"
            )
        if set(OWN_APP_OPTIONS) <= set(cls.connection_options):
            return own_app_overrides(options)
        return {}

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """Check settings an org may change on its connection (``PATCH /connection``);
        returns them normalised. Providers with choices override this."""
        if settings:
            raise InputError(f"{cls.spec.display_name} has no connection settings to change")
        return {}

    @classmethod
    def api_key_auth(cls, api_key: str) -> httpx.Auth:
        """How an API key authenticates, for CRMs that accept keys besides OAuth."""
        raise InputError(f"{cls.spec.display_name} connects through OAuth; it takes no API key")

    @abstractmethod
    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        """Called once after authorisation to learn which CRM account the token is for."""

    @abstractmethod
    async def ensure_setup(self) -> SetupReport:
        """Make sure the custom fields crmsync writes exist, creating them where allowed."""

    @abstractmethod
    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        """CRM users that can own records, with their emails (for owner matching).

        ``emails`` are the organisation's users: a CRM that can filter by email asks only for
        these; others may return every user."""

    async def users_by_id(self, crm_ids: Sequence[str]) -> list[CrmUser]:
        """The CRM users with these ids, active or not (an owner read back who is none of
        the org's users still has an email to report). By default from ``list_users``."""
        wanted = set(crm_ids)
        return [u for u in await self.list_users([]) if u.id in wanted]

    @abstractmethod
    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """Write up to ``spec.batch_size`` records; one outcome per write, in order."""

    async def push_bulk(
        self, writes: Sequence[RecordWrite], heartbeat: Callable[[], Awaitable[None]]
    ) -> list[WriteOutcome]:
        """Write a large backfill as one job (``spec.bulk_threshold`` set); one outcome per
        write, in order. Call ``heartbeat`` at least every 30 s while waiting on the CRM."""
        raise NotImplementedError(f"{self.spec.display_name} has no bulk API")

    async def push_conversations(self, writes: Sequence[ConversationWrite]) -> list[WriteOutcome]:
        """Create or update conversations as CRM records linked to their contacts' records;
        one outcome per write, in order (``crm_id`` the conversation's record); declared by
        ``Capability.CONVERSATIONS``."""
        raise self._undeclared(Capability.CONVERSATIONS)

    async def read(self, crm_ids: Sequence[str], fields: Sequence[str]) -> list[RemoteRecord]:
        """The records with these ids (those that exist), with ``fields`` (CRM field names as
        the mappings name them); declared by ``Capability.READ``."""
        raise self._undeclared(Capability.READ)

    async def read_changes(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        """What changed since ``cursor`` (None: from the beginning), oldest first, with the
        CRM's own stamps; declared by ``Capability.READ_CHANGES``."""
        raise self._undeclared(Capability.READ_CHANGES)

    async def describe_fields(self) -> list[FieldDescription]:
        """The CRM's field catalogue for the object crmsync writes, custom fields included;
        declared by ``Capability.DESCRIBE_FIELDS``."""
        raise self._undeclared(Capability.DESCRIBE_FIELDS)

    @classmethod
    def webhook_hints(
        cls, request: WebhookRequest, settings: Mapping[str, Any]
    ) -> list[ChangeHint]:
        """The changes a CRM's webhook call names, once its signature is checked against the
        provider's ``settings`` (the app's credentials; with ``webhook_account``, those and the
        connection's settings); declared by ``Capability.WEBHOOKS``. Raises
        ``SignatureError`` for a forged or stale call."""
        raise NotImplementedError(f"{cls.spec.display_name} does not declare webhooks")

    @classmethod
    def webhook_account(cls, request: WebhookRequest) -> str | None:
        """For a CRM that signs each connection's subscription with a key of its own (Close):
        the CRM account an unchecked call says it is about. The engine then checks the call
        against each connection to that account (``webhook_hints`` with the connection's
        settings) and keeps the hints for the one it verifies with. None (the default): the
        call is signed with the app's credentials and checked once."""
        return None

    async def teardown(self) -> None:
        """Undo what ``ensure_setup`` made in the CRM for this connection alone (Close's
        webhook subscription), on disconnect; best effort. The default has nothing to undo."""
        return None

    def stored_value(self, crm_field: str, value: Any) -> Any:
        """What the CRM keeps when crmsync writes ``value`` to ``crm_field`` (a CRM that
        truncates or fills in a value overrides this), so that reading it back is no edit."""
        return value

    def _undeclared(self, capability: Capability) -> NotImplementedError:
        return NotImplementedError(f"{self.spec.display_name} does not declare {capability}")

    def rate_budget(self) -> RateBudget:
        """The budget of the CRM account this connector talks to, shared in this process.

        CRMs count requests per account, so every connector instance for the same account
        (the connect-time setup as well as each sync run) must draw from one budget.
        """
        owner = self.ctx.account_id or self.ctx.settings.get("connection_id") or id(self)
        return self.ctx.budgets.for_account(f"{self.spec.name}:{owner}", self.ctx.spec.rate_limit)

    def record_url(self, crm_id: str) -> str | None:
        """The record's page in the CRM's own UI: the one way a link to a CRM record is built.

        ``spec.record_url`` is a template with ``{crm_id}``, ``{account_id}`` and any text
        setting of the connection (e.g. Salesforce's ``{instance_url}``); None without a
        template, or when the connection lacks a placeholder's value."""
        template = self.ctx.spec.record_url
        if not template:
            return None
        values = {k: v for k, v in self.ctx.settings.items() if isinstance(v, str) and v}
        values.update(account_id=self.ctx.account_id or "", crm_id=crm_id)
        try:
            url = template.format_map(values)
        except (KeyError, IndexError, ValueError):
            return None
        return url if url.startswith(("https://", "http://")) else None
