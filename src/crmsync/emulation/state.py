"""What every emulator's state holds around its CRM's data: request counters, the fault
injector, the OAuth store, and the ``/_emulator/`` controls over them.

Each CRM's emulator class builds its store, OAuth store (token shapes, rotation) and rate
limiters, then hands them to :class:`EmulatorState`, which builds the rest the same way for all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from crmsync.emulation.control import EmulatorControls
from crmsync.emulation.counters import RequestCounters
from crmsync.emulation.faults import FaultInjector
from crmsync.emulation.oauth import OAuthStore
from crmsync.emulation.ratelimit import SlidingWindowLimiter


class ToolkitConfig(Protocol):
    """The settings every emulator's config has for the toolkit's pieces."""

    @property
    def fault_seed(self) -> int: ...

    @property
    def timeout_sleep_seconds(self) -> float: ...

    @property
    def clock(self) -> Callable[[], float]: ...


class ToolkitParts(Protocol):
    """The toolkit's pieces a policy and a harness act on."""

    @property
    def counters(self) -> RequestCounters: ...

    @property
    def faults(self) -> FaultInjector: ...

    @property
    def oauth(self) -> OAuthStore: ...


def window_limiter(
    config: ToolkitConfig, max_requests: int, interval_seconds: float, *, enabled: bool
) -> SlidingWindowLimiter:
    """A sliding window on the emulator's clock."""
    return SlidingWindowLimiter(
        max_requests=max_requests,
        interval_seconds=interval_seconds,
        enabled=enabled,
        clock=config.clock,
    )


class EmulatorState:
    """The base of each CRM's emulator class: counters, faults from the config, the CRM's
    OAuth store, and controls whose reset is the CRM's ``reset_data`` plus the toolkit's own.

    ``rate_limiter`` is the limit ``PUT /_emulator/ratelimit`` sets; ``linked_limiters``
    follow its on/off switch and are emptied with it."""

    def __init__(
        self,
        config: ToolkitConfig,
        *,
        served: bool,
        oauth: OAuthStore,
        rate_limiter: SlidingWindowLimiter,
        reset_data: Callable[[], None],
        linked_limiters: Sequence[SlidingWindowLimiter] = (),
    ) -> None:
        self.served = served
        self.counters = RequestCounters()
        self.faults = FaultInjector(
            served=served,
            seed=config.fault_seed,
            timeout_sleep_seconds=config.timeout_sleep_seconds,
        )
        self.oauth = oauth
        self.controls = EmulatorControls(
            faults=self.faults,
            counters=self.counters,
            rate_limiter=rate_limiter,
            oauth=oauth,
            reset=reset_data,
            linked_limiters=tuple(linked_limiters),
        )

    def reset(self, *, include_tokens: bool = False) -> None:
        """Seeded data back, no faults, zero counters, empty rate windows; OAuth grants are
        kept unless ``include_tokens`` (use ``oauth.revoke_account()`` to test reconnects)."""
        self.controls.reset_all(include_tokens=include_tokens)
