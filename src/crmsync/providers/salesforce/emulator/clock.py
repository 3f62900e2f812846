"""The emulator's clock: the configured one (real or manual) plus a shift a harness control
adds, so a test can age the org by days (the recycle bin's retention) without sleeping."""

from __future__ import annotations

import threading
from collections.abc import Callable


class ShiftedClock:
    def __init__(self, base: Callable[[], float]) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._shift = 0.0

    def __call__(self) -> float:
        with self._lock:
            return self._base() + self._shift

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._shift += seconds
