"""Close's change feed, read from its event log (``GET /event/``), in Close's own terms.

**From the start** (no cursor) every contact is listed (``GET /contact/``, 100 a page, a page
a read, ``more`` until the last): the event log keeps 30 days only, so it cannot rebuild what
exists. The listing's first answer's ``Date`` (Close's clock) is where the event log takes
over.

**Then the event log**: contact events (``object_type=contact``, created / updated / deleted)
and lead merges (``object_type=lead&action=merged``), each read in full, newest first, 50 a
call, from ``date_updated__gte`` five minutes before the previous read by Close's clock (its
answer's ``Date``): an event may show up in the log a moment after the date it carries, and
Close consolidates a burst of updates to one object into one event whose ``date_updated``
moves on, so an event comes again under its id. Events already delivered (id and
``date_updated`` in the cursor's ``seen``) are left out; the rest come oldest first. Once a
connection is quiet for five minutes a read scans nothing old: two calls. A backlog longer
than 2,500 events is read in windows (``date_updated__lte``): a scan that reaches the cap ends
the next window before the oldest event it saw; a window half full or less doubles the next;
``more`` until the reads catch up with Close's clock.

* created / updated: the record is the event's ``data`` (the contact after the change; read
  by id when Close left it out), ``changed_fields`` as the mapping names them, ``origin`` the
  actor, and ``echo`` when the actor is crmsync's own (its API key, or the Close user the
  connection names as its integration user; without either, nothing is claimed and the
  engine's shadows decide).
* deleted: a tombstone. Deleting a lead cascades a ``contact.deleted`` per contact.
* a contact moved to another lead, or a lead merged into another: the contact keeps its id,
  so it is an upsert (a merge's moved contacts are read from the destination lead).

**Retention**: a cursor older than 30 days by Close's clock (the answer's ``Date``) is a gap:
``full_sync_needed``, and the engine lists everything again.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from crmsync import jsoncodec
from crmsync.domain.records import Change, ChangeKind, ChangePage, RemoteRecord
from crmsync.providers.close import reading
from crmsync.providers.close.client import EVENT_LIMIT, PAGE_LIMIT, CloseClient

PREFIX = "close1."
OVERLAP = timedelta(minutes=5)
RETENTION = timedelta(days=30)
SEEN_CAP = 5_000
MAX_PAGES = 50
"""Pages of contact events a read scans at most (2,500 events): a longer backlog is read in
windows of the log (``date_updated__lte``), oldest first, each small enough to hold."""
FULL, LOG = "full", "log"
FieldIds = Callable[[], Awaitable[Mapping[str, str]]]
"""The custom fields' ids by name, asked for only when there is something to translate: a
quiet read costs the two event-log calls alone."""


@dataclass
class Position:
    mode: str = FULL
    stamp: str = ""
    """Close's clock (the answer's ``Date``) when the listing began (``full``) or at the last
    read of the log (``log``; the latest event read when Close sent no ``Date``)."""
    skip: int = 0
    span: float = 0.0
    """Seconds of log a read covers from ``stamp`` (0: up to now); halved when a window holds
    more than a read may, doubled after each window read."""
    edge: bool = False
    """``stamp`` is the end of a window already read, five minutes or more before Close's
    clock: settled, so the next window starts there with no re-scan."""
    seen: dict[str, str] = field(default_factory=dict)
    """Event id → ``date_updated`` of the events delivered within the overlap window."""

    def encode(self) -> str:
        body = {
            "m": self.mode,
            "s": self.stamp,
            "k": self.skip,
            "w": self.span,
            "x": self.edge,
            "e": self.seen,
        }
        return PREFIX + base64.urlsafe_b64encode(jsoncodec.dumps_bytes(body)).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str | None) -> Position:
        """None: from the start; anything not a Close cursor is refused, never guessed."""
        if not cursor:
            return cls()
        if not cursor.startswith(PREFIX):
            raise ValueError(f"not a Close change cursor: {cursor[:40]!r}")
        raw = cursor[len(PREFIX) :]
        try:
            body = jsoncodec.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            return cls(
                mode=LOG if body["m"] == LOG else FULL,
                stamp=str(body["s"]),
                skip=int(body["k"]),
                span=float(body.get("w") or 0.0),
                edge=bool(body.get("x")),
                seen={str(k): str(v) for k, v in dict(body["e"]).items()},
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a Close change cursor: {cursor[:40]!r}") from exc


def moment(stamp: str) -> datetime:
    """Close's ISO-8601 stamps (naive ones are UTC) or an HTTP ``Date``."""
    try:
        found = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        found = parsedate_to_datetime(stamp)
    return found if found.tzinfo else found.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Own:
    """What marks crmsync's own writes in Close's events."""

    api_key_id: str | None = None
    user_id: str | None = None

    def claims(self, event: Mapping[str, Any]) -> bool:
        key, user = event.get("api_key_id"), event.get("user_id")
        return bool(
            (self.api_key_id and key == self.api_key_id) or (self.user_id and user == self.user_id)
        )


def origin(event: Mapping[str, Any]) -> str | None:
    if event.get("api_key_id"):
        return f"api_key:{event['api_key_id']}"
    return f"user:{event['user_id']}" if event.get("user_id") else None


RANK = {"created": 0, "updated": 1, "merged": 1, "deleted": 2}


def _order(event: Mapping[str, Any]) -> tuple[datetime, int, str]:
    """Oldest first; within one stamp, an object's create before its update before its delete."""
    return (
        moment(str(event["date_updated"])),
        RANK.get(str(event.get("action")), 1),
        str(event["id"]),
    )


class ChangeReader:
    def __init__(self, client: CloseClient, own: Own) -> None:
        self.client = client
        self.own = own

    async def read(
        self, cursor: str | None, fields: Sequence[str], field_ids: FieldIds
    ) -> ChangePage:
        pos = Position.decode(cursor)
        if pos.mode == FULL:
            return await self._listing(pos, fields, field_ids)
        return await self._log(pos, fields, field_ids)

    async def _listing(
        self, pos: Position, fields: Sequence[str], field_ids: FieldIds
    ) -> ChangePage:
        contacts, more, date = await self.client.contacts_page(pos.skip, PAGE_LIMIT)
        ids = await field_ids() if contacts else {}
        if not pos.stamp:
            pos.stamp = moment(date).isoformat() if date else ""
        records = sorted(
            (reading.remote_record(c, fields, ids) for c in contacts),
            key=lambda r: r.modified_at or "",
        )
        changes = [
            Change(ChangeKind.UPSERTED, r.crm_id, r.modified_at or "", record=r) for r in records
        ]
        if more:
            pos.skip += len(contacts)
        else:
            pos.mode, pos.skip, pos.seen = LOG, 0, {}
            pos.stamp = pos.stamp or max((r.modified_at or "" for r in records), default="")
        return ChangePage(changes, cursor=pos.encode(), more=more)

    async def _log(self, pos: Position, fields: Sequence[str], field_ids: FieldIds) -> ChangePage:
        start = moment(pos.stamp) if pos.stamp else None
        upper = start + timedelta(seconds=pos.span) if start and pos.span else None
        since = start if pos.edge else start - OVERLAP if start else None
        window = {"date_updated__gte": since.isoformat()} if since else {}
        if upper is not None:
            window["date_updated__lte"] = upper.isoformat()
        query = {"object_type": "contact", **window}
        cap = MAX_PAGES if start is not None else None
        events, date, complete = await self.client.events(query, cap)
        now = moment(date) if date else None
        if start and now and start < now - RETENTION:
            return ChangePage([], cursor=None, full_sync_needed=True)
        if not complete and start is not None:
            oldest = moment(str(events[-1]["date_updated"]))
            if oldest > start:
                # more than a read holds: a window ending before the newest events scanned
                pos.span = (oldest - start).total_seconds()
                return ChangePage([], cursor=pos.encode(), more=True)
            # the five minutes re-scanned before the cursor alone hold more: read them once
            events, date, complete = await self.client.events(query)
        merged = {"object_type": "lead", "action": "merged", **window}
        merges, _, _ = await self.client.events(merged)
        scanned = events + merges
        fresh = sorted(
            (e for e in scanned if pos.seen.get(str(e["id"])) != str(e["date_updated"])),
            key=_order,
        )
        changes: list[Change] = []
        ids = await field_ids() if fresh else {}
        for event in fresh:
            changes += await self._changes(event, fields, ids)
        latest = max([moment(str(e["date_updated"])) for e in scanned], default=None)
        if upper is not None:  # a window of a backlog: the next starts where it ended
            sparse = len(events) < MAX_PAGES * EVENT_LIMIT // 2
            reached = now is None or upper >= now  # Close's clock: the next window is open
            span = 0.0 if reached else pos.span * (2 if sparse else 1)
            pos.stamp, pos.span, pos.edge = upper.isoformat(), span, True
        elif now is not None:  # Close's clock: the next read re-scans the five minutes before
            pos.stamp, pos.span, pos.edge = now.isoformat(), 0.0, False
        elif latest is not None and (start is None or latest > start):
            pos.stamp, pos.span, pos.edge = latest.isoformat(), 0.0, False
        floor = moment(pos.stamp) - OVERLAP if pos.stamp else None
        seen = {str(e["id"]): str(e["date_updated"]) for e in scanned}
        kept = {
            k: v for k, v in {**pos.seen, **seen}.items() if floor is None or moment(v) >= floor
        }
        pos.seen = dict(sorted(kept.items(), key=lambda kv: moment(kv[1]))[-SEEN_CAP:])
        return ChangePage(changes, cursor=pos.encode(), more=upper is not None)

    async def _changes(
        self, event: Mapping[str, Any], fields: Sequence[str], field_ids: Mapping[str, str]
    ) -> list[Change]:
        stamp, action = str(event["date_updated"]), str(event.get("action"))
        common: dict[str, Any] = {"origin": origin(event), "echo": self.own.claims(event)}
        data = event.get("data") or {}
        if event.get("object_type") == "lead":
            destination = str(data.get("merge_destination_lead_id") or event.get("object_id"))
            contacts = await self.client.contacts_of_lead(destination)
            return [
                Change(
                    ChangeKind.UPSERTED,
                    str(c["id"]),
                    stamp,
                    record=reading.remote_record(c, fields, field_ids),
                    **common,
                )
                for c in contacts
            ]
        crm_id = str(event["object_id"])
        if action == "deleted":
            tombstone = RemoteRecord(crm_id, modified_at=stamp, archived=True)
            return [Change(ChangeKind.DELETED, crm_id, stamp, record=tombstone, **common)]
        contact = data if data.get("id") else await self.client.contact(crm_id)
        if contact is None:
            return []  # deleted since: its own event says so
        return [
            Change(
                ChangeKind.UPSERTED,
                crm_id,
                stamp,
                record=reading.remote_record(contact, fields, field_ids),
                changed_fields=reading.changed_fields(event.get("changed_fields") or [], field_ids)
                if action == "updated"
                else None,
                **common,
            )
        ]
