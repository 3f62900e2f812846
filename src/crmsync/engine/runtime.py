"""The objects one process shares: settings, database, vault, provider specs, queue hook."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from crmsync.connectors.base import AppNames
from crmsync.connectors.http import RetryPolicy, tls_context
from crmsync.connectors.oauth import OAuthFlow
from crmsync.connectors.registry import Provider, get_provider
from crmsync.connectors.spec import ProviderSpec
from crmsync.db.session import Database
from crmsync.engine.tokens import Vault
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
    kick: Callable[[str], None] = _no_kick
    """Tells the task queue that a connection has work (set by ``crmsync.engine.queue``)."""
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

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
        return get_provider(name)

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
        return httpx.AsyncClient(
            base_url=spec.api_base,
            auth=auth,
            transport=self.transport,
            verify=tls_context(),
            timeout=self.settings.http_timeout_seconds,
            headers={"User-Agent": "crmsync/0.1"},
        )
