"""The event log as seen from the stores beside ``CloseStore`` (opportunities, logged
activities, tasks): one entry written under the store's lock, as ``CloseStore`` writes its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crmsync.providers.close.emulator.eventlog import Actor, EventLog


@dataclass
class Journal:
    lock: threading.Lock
    events: EventLog
    clock: Callable[[], float]

    def log(
        self,
        org_id: str,
        object_type: str,
        action: str,
        actor: Actor,
        data: dict[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> None:
        with self.lock:
            self.events.record(self.clock(), org_id, object_type, action, actor, data, before)
