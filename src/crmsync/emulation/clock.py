"""A clock that moves only when told to, so tests of rate windows and token expiry need not sleep.

Emulators take ``clock: Callable[[], float]``; pass a :class:`ManualClock` instead of ``time.time``.
"""

from __future__ import annotations

import threading


class ManualClock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
