"""The search index: what ``POST .../search`` sees, which trails writes by a lag.

HubSpot's search is eventually consistent (a create takes seconds, an update up to about a
minute to be searchable); reads by id are not. With a lag, each write is queued and becomes
searchable ``lag_seconds`` later on the emulator's clock; until then search sees the version
before it (or nothing, for a new contact). Archived and merged-away contacts leave search at
once (HubSpot's search never returns archived records).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping

from crmsync.providers.hubspot.emulator.records import StoredContact


class SearchIndex:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.lag_seconds = 0.0
        self._visible: dict[str, StoredContact] = {}
        self._queue: deque[tuple[float, StoredContact]] = deque()

    def set_lag(self, seconds: float, live: Mapping[str, StoredContact]) -> None:
        """From now on writes are searchable ``seconds`` later; what is stored now is indexed."""
        if seconds < 0:
            raise ValueError("a search lag is not negative")
        self.lag_seconds = seconds
        self._queue.clear()
        self._visible = {cid: c.copy() for cid, c in live.items()} if seconds else {}

    def written(self, contact: StoredContact) -> None:
        """Called under the store's lock after every change to a live contact."""
        if self.lag_seconds:
            self._queue.append((self._clock() + self.lag_seconds, contact.copy()))

    def searchable(self, live: Mapping[str, StoredContact]) -> list[StoredContact]:
        """Copies of what search finds now, in id order (called under the store's lock)."""
        if not self.lag_seconds:
            return sorted((c.copy() for c in live.values()), key=lambda c: int(c.id))
        now = self._clock()
        while self._queue and self._queue[0][0] <= now:
            _, version = self._queue.popleft()
            self._visible[version.id] = version
        found = [c for cid, c in self._visible.items() if cid in live]
        return sorted((c.copy() for c in found), key=lambda c: int(c.id))
