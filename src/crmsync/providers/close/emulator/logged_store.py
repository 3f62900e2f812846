"""Calls, emails, meetings and tasks of every organisation (see ``logged`` for the fields).

Each write is checked whole before anything is kept and is an event of the kind's
``object_type`` (``activity.call``, ``activity.email``, ``activity.meeting``, ``task.lead``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from crmsync.providers.close.emulator import checks
from crmsync.providers.close.emulator.errors import invalid, not_found
from crmsync.providers.close.emulator.eventlog import Actor
from crmsync.providers.close.emulator.journal import Journal
from crmsync.providers.close.emulator.logged import (
    EMAIL,
    MEETING_UPDATABLE,
    Kind,
    Logged,
    email_rules,
    note_pair,
)
from crmsync.providers.close.emulator.records import new_id

BASE = ("lead_id", "contact_id", "user_id", "activity_at")


@dataclass
class LoggedStore:
    now: Callable[[], str]
    journal: Journal
    lead_exists: Callable[[str, str], bool]
    lead_of: Callable[[str, str], str]
    members: Callable[[str], Collection[str]]
    items: dict[str, Logged] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.items.clear()

    def of_org(self, org_id: str, kind: Kind | None = None) -> list[Logged]:
        with self.lock:
            return [
                i
                for i in self.items.values()
                if i.organization_id == org_id and (kind is None or i.kind == kind)
            ]

    def get(self, org_id: str, kind: Kind, item_id: str) -> Logged:
        with self.lock:
            found = self.items.get(item_id)
        if found is None or found.organization_id != org_id or found.kind != kind:
            raise not_found("Task" if kind.name == "task" else "Activity")
        return found

    def create(
        self, org_id: str, kind: Kind, payload: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """A new one (meetings only from the harness: Close's API has no create for them)."""
        base = BASE if kind.has_contact else ("lead_id",)
        checks.refuse_unknown(payload, (*base, *kind.parsers))
        self._custom_refused(payload)
        lead_id = payload.get("lead_id")
        if not lead_id:
            raise invalid(field_errors={"lead_id": "This field is required."})
        if not isinstance(lead_id, str) or not self.lead_exists(org_id, lead_id):
            raise invalid(field_errors={"lead_id": "Object does not exist."})
        missing = {name: "This field is required." for name in kind.required if name not in payload}
        if missing:
            raise invalid(field_errors=missing)
        values, errors = self._parse(org_id, kind, payload)
        if kind is EMAIL:
            errors = {**email_rules(payload, None), **errors}
        user = actor.user_id or ""
        if "user_id" in payload:
            try:
                user = checks.member(payload["user_id"], self.members(org_id))
            except ValueError as exc:
                errors["user_id"] = str(exc)
        contact_id = self._contact(org_id, lead_id, payload, errors)
        at = self._at(payload, errors)
        if errors:
            raise invalid(field_errors=errors)
        now = self.now()
        made = Logged(
            id=new_id(kind.id_prefix),
            kind=kind,
            organization_id=org_id,
            lead_id=lead_id,
            user_id=user,
            date_created=now,
            date_updated=now,
            activity_at=at or now,
            contact_id=contact_id,
            values={**kind.defaults, **values},
        )
        if kind.name == "task":
            made.values.setdefault("assigned_to", user)
        with self.lock:
            self.items[made.id] = made
        data = made.as_json()
        self.journal.log(org_id, kind.object_type, "created", actor, data)
        return data

    def update(
        self, org_id: str, kind: Kind, item_id: str, payload: Mapping[str, Any], actor: Actor
    ) -> dict[str, Any]:
        allowed = MEETING_UPDATABLE if kind.name == "meeting" else kind.parsers
        base = ("lead_id",) if kind.name == "meeting" or not kind.has_contact else BASE
        checks.refuse_unknown(payload, (*base, *allowed))
        self._custom_refused(payload)
        found = self.get(org_id, kind, item_id)
        if "lead_id" in payload and payload["lead_id"] != found.lead_id:
            raise invalid(field_errors={"lead_id": "An activity cannot move to another lead."})
        if kind is EMAIL:
            refused = email_rules(payload, found.values)
            if refused:
                raise invalid(field_errors=refused)
        values, errors = self._parse(org_id, kind, payload)
        contact_id = self._contact(org_id, found.lead_id, payload, errors)
        at = self._at(payload, errors)
        if "user_id" in payload:
            try:
                checks.member(payload["user_id"], self.members(org_id))
            except ValueError as exc:
                errors["user_id"] = str(exc)
        if errors:
            raise invalid(field_errors=errors)
        before = found.as_json()
        found.values.update(values)
        if "contact_id" in payload:
            found.contact_id = contact_id
        if "user_id" in payload:
            found.user_id = str(payload["user_id"])
        found.activity_at = at or found.activity_at
        found.date_updated = self.now()
        after = found.as_json()
        self.journal.log(org_id, kind.object_type, "updated", actor, after, before)
        return after

    def delete(self, org_id: str, kind: Kind, item_id: str, actor: Actor) -> None:
        found = self.get(org_id, kind, item_id)
        with self.lock:
            self.items.pop(item_id, None)
        self.journal.log(org_id, kind.object_type, "deleted", actor, found.as_json())

    def _parse(
        self, org_id: str, kind: Kind, payload: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        members = self.members(org_id)
        for key, parse in kind.parsers.items():
            if key in payload:
                try:
                    values[key] = parse(payload[key], members)
                except ValueError as exc:
                    errors[key] = str(exc)
        if kind.note_pair and not errors:
            values.update(note_pair(payload))
        return values, errors

    def _contact(
        self, org_id: str, lead_id: str, payload: Mapping[str, Any], errors: dict[str, str]
    ) -> str | None:
        contact_id = payload.get("contact_id")
        if contact_id is None:
            return None
        try:
            on = isinstance(contact_id, str) and self.lead_of(org_id, contact_id) == lead_id
        except Exception:
            on = False
        if not on:
            errors["contact_id"] = "The contact is not a contact of this lead."
        return str(contact_id)

    @staticmethod
    def _at(payload: Mapping[str, Any], errors: dict[str, str]) -> str | None:
        if payload.get("activity_at") is None:
            return None
        try:
            return checks.moment(payload["activity_at"])
        except ValueError as exc:
            errors["activity_at"] = str(exc)
            return None

    @staticmethod
    def _custom_refused(payload: Mapping[str, Any]) -> None:
        custom = sorted(k for k in payload if k.startswith("custom."))
        if custom:
            raise invalid(field_errors={k: "Unknown field." for k in custom})

    # moves that follow the lead ------------------------------------------------------------

    def follow_merge(self, org_id: str, source: str, destination: str, actor: Actor) -> None:
        """The source lead's activities and tasks now on the destination, one update event
        each (Close's exact events on a merge are unconfirmed)."""
        for item in [i for i in self.of_org(org_id) if i.lead_id == source]:
            before = item.as_json()
            item.lead_id, item.date_updated = destination, self.now()
            after = item.as_json()
            self.journal.log(org_id, item.kind.object_type, "updated", actor, after, before)

    def drop_lead(self, org_id: str, lead_id: str, actor: Actor) -> None:
        for item in [i for i in self.of_org(org_id) if i.lead_id == lead_id]:
            self.delete(org_id, item.kind, item.id, actor)
