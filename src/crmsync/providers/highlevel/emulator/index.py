"""The search index: what ``POST /contacts/search`` sees, which may trail writes.

HighLevel's search documentation warns that "updates may take a few seconds to appear in
search results"; ``GET /contacts/{id}`` is not affected. With a delay, each write (a create,
an update, a delete or a restore) is queued and becomes searchable ``delay_seconds`` later on
the emulator's clock; until then search sees the version before it (or nothing, for a new
contact). Without a delay search reads the store itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from crmsync.providers.highlevel.emulator.records import StoredContact


class SearchIndex:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.delay_seconds = 0.0
        self._visible: dict[str, StoredContact] = {}
        self._queue: deque[tuple[float, StoredContact]] = deque()

    @property
    def delayed(self) -> bool:
        return self.delay_seconds > 0

    def set_delay(self, seconds: float, stored: Iterable[StoredContact]) -> None:
        """From now on writes are searchable ``seconds`` later; what is stored now (live and
        deleted contacts) is indexed."""
        if seconds < 0:
            raise ValueError("an indexing delay is not negative")
        self.delay_seconds = seconds
        self._queue.clear()
        self._visible = {c.id: c.copy() for c in stored} if seconds else {}

    def written(self, contact: StoredContact) -> None:
        """Called under the store's lock after every change to a contact."""
        if self.delayed:
            self._queue.append((self._clock() + self.delay_seconds, contact.copy()))

    def searchable(self) -> list[StoredContact]:
        """The versions search finds now (deleted ones included, flagged); read them only
        under the store's lock."""
        now = self._clock()
        while self._queue and self._queue[0][0] <= now:
            _, version = self._queue.popleft()
            self._visible[version.id] = version
        return list(self._visible.values())
