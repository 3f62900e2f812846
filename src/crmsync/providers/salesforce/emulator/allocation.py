"""The org's daily API request allocation, counted per window.

Salesforce counts API requests over a rolling 24 hours; the emulator counts them in fixed
windows aligned to its clock (one window per UTC day by default), so a test can say exactly
when capacity comes back. Requests are counted even when enforcement is off, so
``Sforce-Limit-Info`` always tells the truth.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from crmsync.emulation import RateDecision, SlidingWindowLimiter


class DailyAllocation(SlidingWindowLimiter):
    """``max_requests`` per fixed ``interval_seconds`` window; the shared
    ``/_emulator/ratelimit`` control sets the allocation and the window length."""

    def __init__(
        self,
        *,
        max_requests: int,
        interval_seconds: float,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            max_requests=max_requests,
            interval_seconds=interval_seconds,
            enabled=enabled,
            clock=clock,
        )
        self._allocation_lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}

    def hit(self, key: str) -> RateDecision:
        with self._allocation_lock:
            now = self._clock()
            window = int(now // self.interval_seconds)
            started, used = self._used.get(key, (window, 0))
            if started != window:
                used = 0
            allowed = not self.enabled or used < self.max_requests
            if allowed:
                used += 1
            self._used[key] = (window, used)
            return RateDecision(
                allowed=allowed,
                limit=self.max_requests,
                remaining=max(self.max_requests - used, 0),
                interval_seconds=self.interval_seconds,
                reset_seconds=(window + 1) * self.interval_seconds - now,
            )

    def used(self, key: str) -> int:
        with self._allocation_lock:
            window = int(self._clock() // self.interval_seconds)
            started, used = self._used.get(key, (window, 0))
            return used if started == window else 0

    def reset(self) -> None:
        with self._allocation_lock:
            self._used.clear()
