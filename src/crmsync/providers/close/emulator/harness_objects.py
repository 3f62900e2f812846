"""The harness's hands on Close's deals and activities: seed and read opportunities,
pipelines, calls, emails, notes, meetings and tasks with Close's own field names (``lead_id``,
``status_id``, ``value`` in cents, ``custom.cf_…``, ``_type``), never through crmsync's
mapping. Seeds go through the same checks as the API (a bad seed raises ``CloseError``) and
write the same events, by the organisation's admin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.logged import CALL, EMAIL, MEETING, TASK, Kind
from crmsync.providers.close.emulator.state import CloseEmulator


class CloseObjects:
    def __init__(self, emulator: CloseEmulator) -> None:
        self.emulator = emulator

    @property
    def org_id(self) -> str:
        return self.emulator.organization_id

    def _admin(self) -> Actor:
        return Actor(self.emulator.store.admin.id)

    # pipelines -----------------------------------------------------------------------------

    def add_pipeline(self, name: str, statuses: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """A pipeline with its ``(label, type)`` statuses; Close's JSON of it."""
        return self.emulator.pipelines.add(self.org_id, name, statuses).as_json()

    def pipelines(self) -> list[dict[str, Any]]:
        return [p.as_json() for p in self.emulator.pipelines.of(self.org_id)]

    def status_id(self, label: str, pipeline: str | None = None) -> str:
        """The id of the status with this label (in the named pipeline, when given)."""
        for p in self.emulator.pipelines.of(self.org_id):
            if pipeline is None or p.name == pipeline:
                for status in p.statuses:
                    if status.label == label:
                        return status.id
        raise KeyError(label)

    # opportunities -------------------------------------------------------------------------

    def seed_opportunity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.emulator.opportunities.create(self.org_id, body, self._admin())

    def edit_opportunity(self, opportunity_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.emulator.opportunities.update(self.org_id, opportunity_id, body, self._admin())

    def opportunities(self, lead_id: str | None = None) -> list[dict[str, Any]]:
        store = self.emulator.opportunities
        found = store.of_org(self.org_id)
        return [store.json(o) for o in found if lead_id is None or o.lead_id == lead_id]

    # activities and tasks ------------------------------------------------------------------

    def _seed(self, kind: Kind, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.emulator.logged.create(self.org_id, kind, body, self._admin())

    def seed_call(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._seed(CALL, body)

    def seed_email(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._seed(EMAIL, body)

    def seed_meeting(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A meeting as calendar sync would bring it (Close's API cannot create one)."""
        return self._seed(MEETING, body)

    def seed_task(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._seed(TASK, body)

    def seed_note(self, body: Mapping[str, Any]) -> dict[str, Any]:
        note = self.emulator.notes.create(self.org_id, self.emulator.store.admin.id, body)
        data = note.as_json()
        self.emulator.journal.log(self.org_id, "activity.note", "created", self._admin(), data)
        return data

    def activities(self, lead_id: str | None = None) -> list[dict[str, Any]]:
        """Calls, emails, meetings and notes (not ``Created``), oldest first, each with
        ``_type``."""
        logged = [
            i.as_json()
            for kind in (CALL, EMAIL, MEETING)
            for i in self.emulator.logged.of_org(self.org_id, kind)
        ]
        with self.emulator.notes.lock:
            notes = [
                n.as_json()
                for n in self.emulator.notes.notes.values()
                if n.organization_id == self.org_id
            ]
        kept = [a for a in [*logged, *notes] if lead_id is None or a["lead_id"] == lead_id]
        return sorted(kept, key=lambda a: (a["date_created"], a["id"]))

    def tasks(self, lead_id: str | None = None) -> list[dict[str, Any]]:
        found = self.emulator.logged.of_org(self.org_id, TASK)
        return [t.as_json() for t in found if lead_id is None or t.lead_id == lead_id]
