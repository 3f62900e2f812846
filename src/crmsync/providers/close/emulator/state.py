"""The Close emulator's state: organisation data plus the toolkit pieces around it.

In-process tests reach it as ``app.state.emulator`` to seed and inspect without HTTP.
"""

from __future__ import annotations

from crmsync.emulation import (
    EmulatorControls,
    FaultInjector,
    OAuthStore,
    RequestCounters,
    SlidingWindowLimiter,
)
from crmsync.providers.close.emulator.config import CloseEmulatorConfig
from crmsync.providers.close.emulator.policy import ClosePolicy
from crmsync.providers.close.emulator.records import new_id
from crmsync.providers.close.emulator.store import CloseStore


class CloseEmulator:
    """A few Close organisations, their admin, and one installed OAuth app."""

    def __init__(self, config: CloseEmulatorConfig, *, served: bool = False) -> None:
        self.config = config
        self.served = served
        self.store = CloseStore(
            clock=config.clock,
            organizations=config.organizations,
            admin_email=config.admin_email,
        )
        self.counters = RequestCounters()
        self.faults = FaultInjector(
            served=served,
            seed=config.fault_seed,
            timeout_sleep_seconds=config.timeout_sleep_seconds,
        )
        self.oauth = OAuthStore(
            access_token_ttl=config.access_token_ttl,
            rotate_refresh_tokens=config.rotate_refresh_tokens,
            clock=config.clock,
            access_token_factory=lambda: new_id("access_"),
            refresh_token_factory=lambda: new_id("refresh_"),
        )
        self.limiter = SlidingWindowLimiter(
            max_requests=config.max_requests,
            interval_seconds=config.interval_seconds,
            enabled=config.rate_limit_enabled,
            clock=config.clock,
        )
        self.org_limiter = SlidingWindowLimiter(
            max_requests=config.max_requests * config.organization_multiplier,
            interval_seconds=config.interval_seconds,
            enabled=config.rate_limit_enabled,
            clock=config.clock,
        )
        self.policy = ClosePolicy(
            config=config,
            counters=self.counters,
            faults=self.faults,
            oauth=self.oauth,
            limiter=self.limiter,
            org_limiter=self.org_limiter,
            primary_org=self.store.primary_id,
        )
        self.controls = EmulatorControls(
            faults=self.faults,
            counters=self.counters,
            rate_limiter=self.limiter,
            oauth=self.oauth,
            reset=self._reset_data,
            linked_limiters=(self.org_limiter,),
        )

    @property
    def organization_id(self) -> str:
        """The first organisation: seeded users and the harness's records live there."""
        return self.store.primary_id

    def add_user(self, email: str, first_name: str = "", last_name: str = "") -> str:
        """A member of the first organisation; returns the ``user_…`` id an owner field holds."""
        return self.store.add_user(email, first_name, last_name).id

    def _reset_data(self) -> None:
        self.store.reset()
        self.policy.fault_scope = None

    def reset(self, *, include_tokens: bool = False) -> None:
        """No data, faults, counts or rate windows; OAuth grants kept unless asked."""
        self.controls.reset_all(include_tokens=include_tokens)
