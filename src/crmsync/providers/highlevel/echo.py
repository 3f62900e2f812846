"""crmsync's own writes to one location, remembered so they are not read back as changes.

HighLevel marks no origin on a contact (no "last modified by", nothing in its webhooks), so
the connector remembers the ``dateUpdated`` each of its writes got back; a change read later
with that very stamp is its own write (``Change.echo``). One per location in this process (the
runtime's ``Allocations``); another process's writes are caught by the engine's shadows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

CAPACITY = 20_000


class OwnWrites:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamps: OrderedDict[str, str] = OrderedDict()

    def wrote(self, contact_id: str, stamp: str | None) -> None:
        if not stamp:
            return
        with self._lock:
            self._stamps[contact_id] = stamp
            self._stamps.move_to_end(contact_id)
            while len(self._stamps) > CAPACITY:
                self._stamps.popitem(last=False)

    def is_own(self, contact_id: str, stamp: str | None) -> bool:
        with self._lock:
            return stamp is not None and self._stamps.get(contact_id) == stamp
