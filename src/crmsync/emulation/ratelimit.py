"""Sliding-window rate limiting per key, so emulators enforce a CRM's request budget.

The clock is injectable: tests move a fake clock instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against the window, with what the headers need."""

    allowed: bool
    limit: int
    remaining: int
    interval_seconds: float
    reset_seconds: float
    """Seconds until the oldest request in the window leaves it (0 when the window is empty)."""


class SlidingWindowLimiter:
    """At most ``max_requests`` per key in any rolling ``interval_seconds``; refused requests
    do not use up the budget."""

    def __init__(
        self,
        *,
        max_requests: int,
        interval_seconds: float,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self.max_requests = max_requests
        self.interval_seconds = interval_seconds
        self.enabled = enabled
        self._validate(max_requests, interval_seconds)

    @staticmethod
    def _validate(max_requests: int, interval_seconds: float) -> None:
        if max_requests < 1 or interval_seconds <= 0:
            raise ValueError("max_requests must be >= 1 and interval_seconds > 0")

    def configure(
        self,
        *,
        enabled: bool | None = None,
        max_requests: int | None = None,
        interval_seconds: float | None = None,
    ) -> None:
        """Change the limits; omitted values are kept. Raises ValueError if invalid."""
        new_max = self.max_requests if max_requests is None else max_requests
        new_interval = self.interval_seconds if interval_seconds is None else interval_seconds
        self._validate(new_max, new_interval)
        with self._lock:
            self.max_requests = new_max
            self.interval_seconds = new_interval
            if enabled is not None:
                self.enabled = enabled

    def hit(self, key: str) -> RateDecision:
        """Record a request for ``key`` if the window has room; say whether it was allowed."""
        with self._lock:
            now = self._clock()
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - self.interval_seconds:
                window.popleft()
            allowed = not self.enabled or len(window) < self.max_requests
            if allowed and self.enabled:
                window.append(now)
            reset = (window[0] + self.interval_seconds - now) if window else 0.0
            return RateDecision(
                allowed=allowed,
                limit=self.max_requests,
                remaining=max(self.max_requests - len(window), 0),
                interval_seconds=self.interval_seconds,
                reset_seconds=max(reset, 0.0),
            )

    def as_json(self) -> dict[str, object]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "max_requests": self.max_requests,
                "interval_seconds": self.interval_seconds,
            }

    def reset(self) -> None:
        """Forget every window (limits are kept)."""
        with self._lock:
            self._windows.clear()
