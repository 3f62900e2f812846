"""The HighLevel emulator's state: the agency's data plus the toolkit pieces around it.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

import secrets

from crmsync.emulation import OAuthApp, OAuthStore
from crmsync.emulation.state import EmulatorState, window_limiter
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.notes import NoteStore
from crmsync.providers.highlevel.emulator.policy import HighLevelPolicy
from crmsync.providers.highlevel.emulator.store import HighLevelStore
from crmsync.providers.highlevel.emulator.webhooks import WebhookOutbox

DAY_SECONDS = 86_400.0


def _token() -> str:
    """Opaque to connectors (real ones are JWTs); they must not parse it."""
    return secrets.token_hex(32)


class HighLevelEmulator(EmulatorState):
    """One agency (company) with its sub-accounts (locations) and one Marketplace app."""

    def __init__(self, config: HighLevelEmulatorConfig, *, served: bool = False) -> None:
        self.config = config
        self.webhooks = WebhookOutbox(config.app_id, config.clock)
        self.store = HighLevelStore(config, self.webhooks.record)
        self.notes = NoteStore(config.clock)
        enabled = config.rate_limit_enabled
        self.limiter = window_limiter(
            config, config.max_requests, config.interval_seconds, enabled=enabled
        )
        self.daily = window_limiter(config, config.daily_requests, DAY_SECONDS, enabled=enabled)
        super().__init__(
            config,
            served=served,
            oauth=OAuthStore(
                app=OAuthApp(config.client_id, config.client_secret),
                access_token_ttl=config.access_token_ttl,
                rotate_refresh_tokens=True,  # HighLevel issues a new refresh token on every refresh
                clock=config.clock,
                access_token_factory=_token,
                refresh_token_factory=_token,
            ),
            rate_limiter=self.limiter,
            reset_data=self.reset_data,
            linked_limiters=(self.daily,),
        )
        self.policy = HighLevelPolicy(
            self, limiter=self.limiter, daily=self.daily, clock=config.clock
        )
        self.chosen_location_id: str | None = None
        """The location picked on the chooselocation page most recently."""

    def reset_data(self) -> None:
        self.store.reset()
        self.webhooks.reset()
        self.notes.reset()
        self.chosen_location_id = None

    @property
    def admin_id(self) -> str:
        email = self.config.admin_email.lower()
        return next(u.id for u in self.store.users.values() if u.email == email)
