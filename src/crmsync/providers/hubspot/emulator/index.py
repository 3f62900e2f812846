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
        self.create_lag_seconds = 0.0
        self._visible: dict[str, StoredContact] = {}
        self._queue: deque[tuple[float, StoredContact]] = deque()

    def set_lag(
        self, seconds: float, live: Mapping[str, StoredContact], create_seconds: float | None = None
    ) -> None:
        """From now on updates are searchable ``seconds`` later and creates ``create_seconds``
        later (the same by default); what is stored now is indexed."""
        create = seconds if create_seconds is None else create_seconds
        if seconds < 0 or create < 0:
            raise ValueError("a search lag is not negative")
        self.lag_seconds, self.create_lag_seconds = seconds, create
        self._queue.clear()
        lagging = seconds or create
        self._visible = {cid: c.copy() for cid, c in live.items()} if lagging else {}

    def written(self, contact: StoredContact, *, created: bool = False) -> None:
        """Called under the store's lock after every change to a live contact. Versions
        become searchable in the order they are due, not the order they were written."""
        if self.lag_seconds or self.create_lag_seconds:
            lag = self.create_lag_seconds if created else self.lag_seconds
            self._queue.append((self._clock() + lag, contact.copy()))

    def searchable(self, live: Mapping[str, StoredContact]) -> list[StoredContact]:
        """What search finds now, in id order: the stored contacts themselves, so read them
        only under the store's lock."""
        if not (self.lag_seconds or self.create_lag_seconds):
            return sorted(live.values(), key=lambda c: int(c.id))
        now = self._clock()
        due = [entry for entry in self._queue if entry[0] <= now]
        if due:
            self._queue = deque(entry for entry in self._queue if entry[0] > now)
            for _, version in sorted(due, key=lambda entry: entry[0]):
                self._visible[version.id] = version
        found = [c for cid, c in self._visible.items() if cid in live]
        return sorted(found, key=lambda c: int(c.id))
