"""The HubSpot emulator's state: portal data plus the toolkit pieces around it.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

import secrets
import uuid

from crmsync.emulation import OAuthApp, OAuthStore
from crmsync.emulation.state import EmulatorState, window_limiter
from crmsync.providers.hubspot.emulator.config import HubSpotEmulatorConfig
from crmsync.providers.hubspot.emulator.notes import NoteStore
from crmsync.providers.hubspot.emulator.policy import HubSpotPolicy
from crmsync.providers.hubspot.emulator.records import Owner, StoredContact
from crmsync.providers.hubspot.emulator.store import CrmStore
from crmsync.providers.hubspot.emulator.webhooks import WebhookSender


def _access_token() -> str:
    """Shaped like HubSpot's (opaque, ``C``-prefixed); connectors must not parse it."""
    return "CN" + secrets.token_urlsafe(48)


def _refresh_token() -> str:
    """HubSpot refresh tokens are region-prefixed UUIDs."""
    return f"na1-{uuid.uuid4()}"


class HubSpotEmulator(EmulatorState):
    """One HubSpot portal with one installed public app."""

    def __init__(self, config: HubSpotEmulatorConfig, *, served: bool = False) -> None:
        self.config = config
        self.store = CrmStore(
            clock=config.clock, admin_email=config.admin_email, app_id=config.app_id
        )
        self.store.set_search_lag(config.search_lag_seconds)
        self.notes = NoteStore(config.clock)
        self.webhooks = WebhookSender(
            self.store,
            client_secret=config.client_secret,
            portal_id=config.portal_id,
            app_id=config.app_id,
            clock=config.clock,
        )
        enabled = config.rate_limit_enabled
        self.limiter = window_limiter(
            config, config.max_requests, config.interval_seconds, enabled=enabled
        )
        per_second = config.search_requests_per_second
        self.search_limiter = (
            window_limiter(config, per_second, 1.0, enabled=enabled) if per_second else None
        )
        super().__init__(
            config,
            served=served,
            oauth=OAuthStore(
                app=OAuthApp(config.client_id, config.client_secret),
                access_token_ttl=config.access_token_ttl,
                rotate_refresh_tokens=False,
                clock=config.clock,
                access_token_factory=_access_token,
                refresh_token_factory=_refresh_token,
            ),
            rate_limiter=self.limiter,
            reset_data=self._reset_data,
            linked_limiters=(self.search_limiter,) if self.search_limiter else (),
        )
        self.policy = HubSpotPolicy(
            self, config=config, limiter=self.limiter, search_limiter=self.search_limiter
        )

    def _reset_data(self) -> None:
        self.store.reset()
        self.notes.reset()

    @property
    def account_id(self) -> str:
        return str(self.config.portal_id)

    @property
    def contacts(self) -> dict[str, StoredContact]:
        """Live contacts by id (archived ones are in ``store.archived``)."""
        return self.store.contacts

    @property
    def owners(self) -> dict[str, Owner]:
        return self.store.owners

    def find_contacts(self, **properties: str | None) -> list[StoredContact]:
        """Contacts whose properties equal all those given (email ignores case)."""
        return self.store.find(**properties)

    def add_owner(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """Add a user to the portal; returns the owner id to put in ``hubspot_owner_id``."""
        return self.store.add_owner(email, first_name, last_name).id
