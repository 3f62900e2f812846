"""Request counters by endpoint, so tests and benchmarks can assert how a connector called a CRM.

Keys are ``"{METHOD} {route path template}"``, e.g. ``POST /crm/v3/objects/contacts/batch/upsert``.
"""

from __future__ import annotations

import threading
from collections import Counter


class RequestCounters:
    """Thread-safe counts: the emulator is called from several threads and event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: Counter[str] = Counter()

    @staticmethod
    def key(method: str, path_template: str) -> str:
        return f"{method.upper()} {path_template}"

    def increment(self, method: str, path_template: str) -> None:
        with self._lock:
            self._by_endpoint[self.key(method, path_template)] += 1

    def get(self, method: str, path_template: str) -> int:
        with self._lock:
            return self._by_endpoint[self.key(method, path_template)]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._by_endpoint.values())

    def by_endpoint(self) -> dict[str, int]:
        """A copy of the counts by key, for sums over some endpoints."""
        with self._lock:
            return dict(self._by_endpoint)

    def snapshot(self) -> dict[str, object]:
        """``{"total": n, "by_endpoint": {key: n}}`` with keys sorted."""
        with self._lock:
            return {
                "total": sum(self._by_endpoint.values()),
                "by_endpoint": dict(sorted(self._by_endpoint.items())),
            }

    def reset(self) -> None:
        with self._lock:
            self._by_endpoint.clear()
