"""Close's event log (``GET /api/v1/event/``) as its documentation describes it.

* Every change to a lead or contact is an event: ``object_type``, ``object_id``, ``lead_id``,
  ``action`` (created, updated, deleted, merged), the actor (``user_id``; ``api_key_id`` when
  the call used an API key, else null), ``request_id``, ``data`` (the object after the
  change), ``previous_data`` and ``changed_fields`` (updates), ``date_created`` and
  ``date_updated``.
* **Consolidation**: an update of an object by the same actor within ``consolidate_seconds``
  of that object's latest update event is folded into it: same id and ``date_created``, a new
  ``date_updated``, ``data`` of now, ``previous_data`` of before the first update,
  ``changed_fields`` of both. So an event can move past a reader's position: readers re-scan.
* **Retention**: 30 days; older events are gone.
* **Listing**: newest first (``date_updated`` descending), ``_limit`` at most 50, paged with
  ``_cursor`` / ``cursor_next`` (no ``_skip``); filters ``date_updated__gte``/``__lte`` with
  one of the documented combinations of ``object_type``, ``object_id``, ``action``,
  ``lead_id``, ``user_id``, ``request_id``. Anything else is refused with Close's 400.

Unconfirmed, chosen as the most plausible: the consolidation window (30 s here), that only
updates consolidate, and that ``lead.merged`` names both leads in its ``data``.
"""

from __future__ import annotations

import base64
import bisect
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crmsync import jsoncodec
from crmsync.providers.close.emulator.errors import invalid
from crmsync.providers.close.emulator.records import iso

RETENTION_SECONDS = 30 * 24 * 3600
MAX_LIMIT = 50
DATE_FILTERS = ("date_updated__gte", "date_updated__lte", "date_updated__gt", "date_updated__lt")
COMBINATIONS: tuple[frozenset[str], ...] = (
    frozenset(),
    frozenset({"object_type", "object_id"}),
    frozenset({"object_type", "action"}),
    frozenset({"object_id", "action"}),
    frozenset({"object_type"}),
    frozenset({"object_id"}),
    frozenset({"lead_id"}),
    frozenset({"lead_id", "object_type"}),
    frozenset({"lead_id", "object_type", "action"}),
    frozenset({"lead_id", "user_id", "object_type"}),
    frozenset({"lead_id", "user_id", "object_type", "action"}),
    frozenset({"user_id"}),
    frozenset({"request_id"}),
)
"""The filter combinations Close documents (``date_updated`` goes with any of them)."""


@dataclass(frozen=True)
class Actor:
    """Who made a call, as events tell it."""

    user_id: str | None
    api_key_id: str | None = None


@dataclass
class Event:
    id: str
    organization_id: str
    object_type: str
    object_id: str
    lead_id: str | None
    action: str
    actor: Actor
    request_id: str
    created: float
    updated: float
    data: dict[str, Any]
    previous_data: dict[str, Any] = field(default_factory=dict)
    changed_fields: list[str] = field(default_factory=list)
    seq: int = 0
    """Order of writing among events of one ``date_updated`` (a clock tick holds several)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organization_id": self.organization_id,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "lead_id": self.lead_id,
            "action": self.action,
            "user_id": self.actor.user_id,
            "api_key_id": self.actor.api_key_id,
            "request_id": self.request_id,
            "date_created": iso(self.created),
            "date_updated": iso(self.updated),
            "data": self.data,
            "previous_data": self.previous_data,
            "changed_fields": list(self.changed_fields),
            "meta": {},
        }


def _changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k) and k != "date_updated")


class EventLog:
    """Not locked by itself: the store calls it under its lock."""

    def __init__(self, consolidate_seconds: float = 30.0) -> None:
        self.consolidate_seconds = consolidate_seconds
        self.events: list[Event] = []
        """Oldest first by ``(date_updated, seq)``: a page is a slice found by bisection."""
        self.written = 0
        self.listeners: list[Callable[[Event], None]] = []
        """Called with each new or consolidated event (webhook deliveries)."""

    def record(
        self,
        now: float,
        org_id: str,
        object_type: str,
        action: str,
        actor: Actor,
        data: dict[str, Any],
        before: Mapping[str, Any] | None = None,
    ) -> Event:
        object_id = str(data["id"])
        lead_id = data.get("lead_id") if object_type != "lead" else object_id
        previous = {k: before.get(k) for k in _changed(before, data)} if before is not None else {}
        if action == "updated":
            latest = self._latest(org_id, object_type, object_id)
            if (
                latest is not None
                and latest.action == "updated"
                and latest.actor == actor
                and now - latest.updated <= self.consolidate_seconds
            ):
                latest.previous_data = {**previous, **latest.previous_data}
                latest.changed_fields = sorted(set(latest.changed_fields) | set(previous))
                latest.data, latest.updated = data, now
                self.events.remove(latest)
                latest.seq = self._next()
                bisect.insort(self.events, latest, key=_order)
                self._tell(latest)
                return latest
        event = Event(
            id="ev_" + secrets.token_urlsafe(16),
            organization_id=org_id,
            object_type=object_type,
            object_id=object_id,
            lead_id=str(lead_id) if lead_id else None,
            action=action,
            actor=actor,
            request_id="req_" + secrets.token_urlsafe(12),
            created=now,
            updated=now,
            data=data,
            previous_data=previous,
            changed_fields=sorted(previous),
            seq=self._next(),
        )
        bisect.insort(self.events, event, key=_order)
        self._tell(event)
        return event

    def _next(self) -> int:
        self.written += 1
        return self.written

    def _tell(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _latest(self, org_id: str, object_type: str, object_id: str) -> Event | None:
        for event in reversed(self.events):
            if (event.organization_id, event.object_type, event.object_id) == (
                org_id,
                object_type,
                object_id,
            ):
                return event
        return None

    def expire(self, now: float) -> None:
        del self.events[: bisect.bisect_left(self.events, (now - RETENTION_SECONDS, 0), key=_order)]

    def page(self, now: float, org_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        """One page, newest first, with ``cursor_next`` (null on the last page)."""
        self.expire(now)
        filters = {k: v for k, v in params.items() if k not in (*DATE_FILTERS, "_limit", "_cursor")}
        unknown = sorted(
            k
            for k in filters
            if k
            not in {
                "object_type",
                "object_id",
                "action",
                "lead_id",
                "user_id",
                "request_id",
                "_fields",
            }
        )
        if unknown:
            raise invalid(field_errors={k: "Unknown filter for the event log." for k in unknown})
        filters.pop("_fields", None)
        if frozenset(filters) not in COMBINATIONS:
            combo = ", ".join(sorted(filters))
            raise invalid([f"This combination of filters is not supported: {combo}."])
        limit = _limit(params.get("_limit"))
        bounds = {k: _date(k, params[k]) for k in DATE_FILTERS if k in params}
        after = _decode(params.get("_cursor"))
        end = len(self.events)
        if after is not None:
            end = bisect.bisect_left(self.events, after, key=_order)
        page: list[Event] = []
        more = False
        for index in range(end - 1, -1, -1):  # newest first
            e = self.events[index]
            if "date_updated__gte" in bounds and e.updated < bounds["date_updated__gte"]:
                break
            if "date_updated__gt" in bounds and e.updated <= bounds["date_updated__gt"]:
                break
            if not (
                e.organization_id == org_id
                and all(_field(e, k) == v for k, v in filters.items())
                and _within(e.updated, bounds)
            ):
                continue
            if len(page) == limit:
                more = True
                break
            page.append(e)
        cursor = _encode((page[-1].updated, page[-1].seq)) if more and page else None
        return {
            "data": [e.as_json() for e in page],
            "cursor_next": cursor,
            "cursor_previous": None,
        }


def _order(event: Event) -> tuple[float, int]:
    return event.updated, event.seq


def _field(event: Event, name: str) -> str | None:
    if name == "user_id":
        return event.actor.user_id
    value = {
        "object_type": event.object_type,
        "object_id": event.object_id,
        "action": event.action,
        "lead_id": event.lead_id,
        "request_id": event.request_id,
    }[name]
    return value


def _within(at: float, bounds: Mapping[str, float]) -> bool:
    checks = {
        "date_updated__gte": lambda b: at >= b,
        "date_updated__lte": lambda b: at <= b,
        "date_updated__gt": lambda b: at > b,
        "date_updated__lt": lambda b: at < b,
    }
    return all(checks[name](bound) for name, bound in bounds.items())


def _limit(value: str | None) -> int:
    if value is None:
        return MAX_LIMIT
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise invalid(field_errors={"_limit": f"Must be between 1 and {MAX_LIMIT}."})
    return int(value)


def _date(name: str, value: str) -> float:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(field_errors={name: "Not a valid datetime."}) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _encode(position: tuple[float, int]) -> str:
    raw = jsoncodec.dumps_bytes([position[0], position[1]])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str | None) -> tuple[float, int] | None:
    if not cursor:
        return None
    try:
        at, seq = jsoncodec.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(at), int(seq)
    except (ValueError, TypeError) as exc:
        raise invalid(field_errors={"_cursor": "Invalid cursor."}) from exc
