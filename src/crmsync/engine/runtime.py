"""The objects one process shares: settings, database, vault, the providers it offers, the
rate budgets and response counts of every CRM account it talks to, and the queue's kick.

Process-wide state lives here and nowhere else (no module globals): two runtimes in one
process, as the tests make, share nothing."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import Histogram

from crmsync.connectors.base import AppNames, ConnectorContext
from crmsync.connectors.http import (
    Allocations,
    CallStats,
    RateBudgets,
    RetryPolicy,
    tls_context,
)
from crmsync.connectors.oauth import OAuthFlow
from crmsync.connectors.registry import Provider, Providers
from crmsync.connectors.spec import ProviderSpec
from crmsync.db.session import Database
from crmsync.engine.loops import ThreadLoops
from crmsync.engine.tokens import Vault
from crmsync.metrics import sync_latency_histogram
from crmsync.providers.catalog import BUILTIN
from crmsync.settings import Settings


def _no_kick(_connection_id: str) -> None:
    return None


@dataclass
class Runtime:
    settings: Settings
    db: Database
    vault: Vault
    transport: httpx.AsyncBaseTransport | None = None
    """Where CRM traffic goes; None means the network (tests route it to emulators)."""
    webhook_transport: httpx.AsyncBaseTransport | None = None
    """Where deliveries to the host's webhook endpoints go; None means the network."""
    kick: Callable[[str], None] = _no_kick
    """Tells the task queue that a connection has work (set by ``crmsync.engine.queue``)."""
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    budgets: RateBudgets = field(default_factory=RateBudgets)
    """One rate budget per CRM account, shared by every run and setup of this process."""
    allocations: Allocations = field(default_factory=Allocations)
    """Quota state per CRM account beyond the rate (Salesforce's daily API allocation)."""
    calls: CallStats = field(default_factory=CallStats)
    loops: ThreadLoops = field(default_factory=ThreadLoops)
    """Each worker thread's event loop, kept from run to run."""
    """CRM responses seen by this process, by provider and status (metrics, benchmarks)."""
    sync_latency: Histogram = field(default_factory=sync_latency_histogram)
    offered: tuple[Provider, ...] = BUILTIN
    """The CRMs this process could offer: the built-in list (a test adds its fake CRM)."""
    providers: Providers = field(init=False)
    """The CRMs this process offers: those offered, less those the settings leave out."""

    def __post_init__(self) -> None:
        self.providers = Providers(self.offered, self.settings.enabled_providers)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        return cls(
            settings=settings,
            db=Database(settings.resolved_database_url),
            vault=Vault(settings.resolved_encryption_key()),
        )

    @property
    def app(self) -> AppNames:
        return AppNames(label=self.settings.app_name, slug=self.settings.app_slug)

    def provider(self, name: str) -> Provider:
        return self.providers.get(name)

    def spec(self, name: str, options: dict[str, str] | None = None) -> ProviderSpec:
        """The provider's facts with settings applied, then the connection's own options
        (e.g. a Salesforce sandbox login host, or the org's own connected app)."""
        connector = self.provider(name).connector
        spec = connector.spec.with_overrides(self.settings.provider(name))
        return spec.with_overrides(connector.oauth_overrides(options)) if options else spec

    def redirect_uri(self, provider: str) -> str:
        return f"{self.settings.public_url.rstrip('/')}/oauth/callback/{provider}"

    def oauth_flow(self, provider: str, options: dict[str, str] | None = None) -> OAuthFlow:
        return OAuthFlow(
            self.spec(provider, options),
            self.redirect_uri(provider),
            transport=self.transport,
            timeout=self.settings.http_timeout_seconds,
        )

    def seal_options(self, options: dict[str, str]) -> str | None:
        """Connection options may hold a client secret: they are stored encrypted."""
        return self.vault.seal(dict(options)).decode() if options else None

    def open_options(self, sealed: str | None) -> dict[str, str]:
        return (
            {str(k): str(v) for k, v in self.vault.open(sealed.encode()).items()} if sealed else {}
        )

    def retry_policy(self) -> RetryPolicy:
        base = self.settings.http_retry_base_seconds
        return RetryPolicy(base_seconds=base, max_seconds=max(base, 30.0 if base else 0.0))

    def http_client(self, spec: ProviderSpec, auth: httpx.Auth | None) -> httpx.AsyncClient:
        """A client for one CRM; every response it gets is counted in ``calls``."""
        return httpx.AsyncClient(
            base_url=spec.api_base,
            auth=auth,
            transport=self.transport,
            verify=tls_context(),
            timeout=self.settings.http_timeout_seconds,
            headers={"User-Agent": "crmsync/0.1"},
            event_hooks={"response": [self.calls.response_hook(spec.name)]},
        )

    def webhook_client(self) -> httpx.AsyncClient:
        """A client for the host's webhook endpoints: no redirects followed (a 3xx is a failed
        attempt), a short timeout (a slow receiver is retried, never waited on)."""
        return httpx.AsyncClient(
            transport=self.webhook_transport,
            verify=tls_context(),
            timeout=min(self.settings.http_timeout_seconds, 10.0),
            follow_redirects=False,
            headers={"User-Agent": "crmsync/0.1"},
        )

    def connector_context(
        self,
        spec: ProviderSpec,
        http: httpx.AsyncClient,
        account_id: str | None = None,
        settings: dict[str, Any] | None = None,
    ) -> ConnectorContext:
        """What a connector instance gets: the spec, a client, and this process's budgets and
        allocations."""
        return ConnectorContext(
            spec=spec,
            http=http,
            app=self.app,
            account_id=account_id,
            settings=dict(settings or {}),
            retry=self.retry_policy(),
            budgets=self.budgets,
            allocations=self.allocations,
            webhook_url=f"{self.settings.public_url.rstrip('/')}/webhooks/{spec.name}",
        )
