"""The HighLevel emulator's state: the agency's data plus the toolkit pieces around it.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

import secrets

from crmsync.emulation import (
    EmulatorControls,
    FaultInjector,
    OAuthStore,
    RequestCounters,
    SlidingWindowLimiter,
)
from crmsync.providers.highlevel.emulator.config import HighLevelEmulatorConfig
from crmsync.providers.highlevel.emulator.policy import HighLevelPolicy
from crmsync.providers.highlevel.emulator.store import HighLevelStore

DAY_SECONDS = 86_400.0


def _token() -> str:
    """Opaque to connectors (real ones are JWTs); they must not parse it."""
    return secrets.token_hex(32)


class HighLevelEmulator:
    """One agency (company) with its sub-accounts (locations) and one Marketplace app."""

    def __init__(self, config: HighLevelEmulatorConfig, *, served: bool = False) -> None:
        self.config = config
        self.served = served
        self.store = HighLevelStore(config)
        self.counters = RequestCounters()
        self.faults = FaultInjector(
            served=served,
            seed=config.fault_seed,
            timeout_sleep_seconds=config.timeout_sleep_seconds,
        )
        self.oauth = OAuthStore(
            access_token_ttl=config.access_token_ttl,
            rotate_refresh_tokens=True,  # HighLevel issues a new refresh token on every refresh
            clock=config.clock,
            access_token_factory=_token,
            refresh_token_factory=_token,
        )
        self.limiter = SlidingWindowLimiter(
            max_requests=config.max_requests,
            interval_seconds=config.interval_seconds,
            enabled=config.rate_limit_enabled,
            clock=config.clock,
        )
        self.daily = SlidingWindowLimiter(
            max_requests=config.daily_requests,
            interval_seconds=DAY_SECONDS,
            enabled=config.rate_limit_enabled,
            clock=config.clock,
        )
        self.policy = HighLevelPolicy(
            counters=self.counters,
            faults=self.faults,
            oauth=self.oauth,
            limiter=self.limiter,
            daily=self.daily,
        )
        self.controls = EmulatorControls(
            faults=self.faults,
            counters=self.counters,
            rate_limiter=self.limiter,
            oauth=self.oauth,
            reset=self.reset_data,
            linked_limiters=(self.daily,),
        )
        self.chosen_location_id: str | None = None
        """The location picked on the chooselocation page most recently."""

    def reset_data(self) -> None:
        self.store.reset()
        self.chosen_location_id = None

    @property
    def admin_id(self) -> str:
        email = self.config.admin_email.lower()
        return next(u.id for u in self.store.users.values() if u.email == email)

    def reset(self, *, include_tokens: bool = False) -> None:
        """Fresh agency data, no faults, zero counters, empty rate windows."""
        self.controls.reset_all(include_tokens=include_tokens)
