"""Provider facts as data: auth endpoints, limits, batch sizes, default field mapping."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.domain.enums import System
from crmsync.domain.mapping import ValueKind
from crmsync.errors import InputError, Rule


@dataclass(frozen=True)
class OAuthSpec:
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    pkce: bool = True
    token_endpoint_auth_method: str = "client_secret_post"
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    extra_token_params: dict[str, str] = field(default_factory=dict)
    """Sent with every token request (e.g. HighLevel's ``user_type``)."""
    refreshed_settings: tuple[str, ...] = ()
    """Token fields kept as connection settings that a refresh may change (Salesforce's
    ``instance_url``, should the org move): the refreshed value replaces the stored one."""


@dataclass(frozen=True)
class RateLimitSpec:
    """The provider's published limit: ``requests`` per ``per_seconds`` per account."""

    requests: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class FieldSpec:
    """One default field mapping. ``crm_field`` is None when the CRM has no place for it."""

    app_field: str
    crm_field: str | None
    provided_as: str  # standard | equivalent | custom | skipped: how the CRM has the field
    kind: ValueKind = ValueKind.TEXT
    source_of_truth: System = System.APP
    """Which side of the flow owns the field; seeded as ``APP`` or the connection's id."""
    identity: bool = False
    note: str = ""


@dataclass(frozen=True)
class ConnectStep:
    """One step an admin takes before authorising (shown by the admin UI)."""

    title: str
    text: str = ""
    url: str = ""
    link_label: str = ""


@dataclass(frozen=True)
class ProviderSpec:
    name: str
    display_name: str
    crm_object: str
    record_label: str
    oauth: OAuthSpec
    api_base: str
    rate_limit: RateLimitSpec
    batch_size: int
    client_id: str = ""
    client_secret: str = ""
    error_rules: tuple[Rule, ...] = ()
    recommendations: dict[str, str] = field(default_factory=dict)
    """Advice shown on the connection when operations fail or skip with an error code."""
    records_per_call: int | None = None
    """Records one write call carries, when less than ``batch_size`` (a CRM without batch
    writes: 1). Benchmarks compute the bound and the minimum number of calls from it."""
    connect_steps: tuple[ConnectStep, ...] = ()
    """Steps before the consent page, e.g. installing a managed package."""
    bulk_threshold: int | None = None
    """Backfills of at least this many due people go through ``Connector.push_bulk``."""
    bulk_max: int = 10_000
    """People per bulk job."""
    bulk_parallel: int = 1
    """Bulk jobs a connection keeps open at once: while one is processed by the CRM (and
    polled), the next is planned and uploaded."""
    upserts: bool = False
    """Writes are upserts keyed by the Person ID field (HubSpot's batch upsert, Salesforce's
    upsert by external ID): a create whose response was lost is simply sent again, so the
    engine writes no pending-create marker before it."""
    record_url: str = ""
    """The record's page in the CRM's UI: a template with ``{crm_id}``, ``{account_id}`` and
    the connection's text settings, e.g. ``{instance_url}`` (see ``Connector.record_url``)."""
    record_id_field: str = "id"
    """The CRM's own field holding a record's id (what a link keeps as ``crm_id``), shown as
    the fixed "CRM record id" row of the mappings."""

    def with_overrides(self, overrides: dict[str, Any]) -> ProviderSpec:
        """Apply settings such as base URLs (the emulator's), client credentials, limits."""
        oauth_keys = {f.name for f in dataclasses.fields(OAuthSpec)}
        oauth = dataclasses.replace(
            self.oauth, **{k: v for k, v in overrides.items() if k in oauth_keys}
        )
        rate = self.rate_limit
        if "rate_limit_requests" in overrides or "rate_limit_seconds" in overrides:
            rate = RateLimitSpec(
                int(overrides.get("rate_limit_requests", rate.requests)),
                float(overrides.get("rate_limit_seconds", rate.per_seconds)),
            )
        own = {f.name for f in dataclasses.fields(self)} - {"oauth", "rate_limit"}
        return dataclasses.replace(
            self,
            oauth=oauth,
            rate_limit=rate,
            **{k: v for k, v in overrides.items() if k in own},
        )


APP_FIELDS: tuple[str, ...] = (
    "person_id",
    "profile_url",
    "first_name",
    "last_name",
    "email",
    "emails",
    "phone",
    "phones",
    "company",
    "title",
    "city",
    "state",
    "zip",
    "country",
    "linkedin_url",
    "owner",
)
"""Every field a Person offers a mapping. ``email``/``phone`` are the first of their lists."""


OWN_APP_OPTIONS = ("client_id", "client_secret")
"""Connection options naming an organisation's own OAuth app, registered with the CRM by the
organisation (a Salesforce connected app, a HubSpot, Close or HighLevel developer app)."""


def own_app_overrides(options: Mapping[str, str]) -> dict[str, Any]:
    """Spec overrides for an organisation's own OAuth app: its client id and secret, together."""
    client_id, secret = options.get("client_id", ""), options.get("client_secret", "")
    if bool(client_id) != bool(secret):
        raise InputError("client_id and client_secret of your own app go together")
    return {"client_id": client_id, "client_secret": secret} if client_id else {}
