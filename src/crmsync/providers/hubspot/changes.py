"""HubSpot's change feed: what changed since a cursor, read from CRM search, the property
history and the archived list.

**Upserts.** Search on ``lastmodifieddate``, ascending, 200 a call. HubSpot takes one sort
only and promises no order among ties, so a full page is cut before its last stamp (all
contacts below it were in the page) and the next read starts at that stamp; a tie filling a
whole page is read by ``hs_object_id`` instead (``EQ`` stamp, ``GT`` last id). Every read is
a fresh query anchored on the cursor's stamp, never ``after`` paging from an old anchor, so
the 10,000-result cap of a search never stops the feed: it re-anchors on the last stamp.

**Index lag.** Search trails writes (~10 s for a create, up to ~60 s for an update: Airbyte
added a lookback window after missing records). Once caught up, each read starts
``overlap_seconds`` (default 60, the longest lag seen) behind the cursor's stamp and delivers
only contacts it has not delivered at that stamp (the cursor's ``edge``), so a write that
became searchable late is still read, and a quiet read delivers nothing. A window read when
HubSpot's own clock (its ``Date`` header) was already an overlap past the stamp has seen every
write stamped before it: the cursor says so (``settled``), and later reads start at the stamp
instead, so a burst of thousands of writes (more than the edge keeps) is not read again at
every idle read.

**Values, origin, merges.** The contacts found are read by id with ``propertiesWithHistory``
(50 a call, HubSpot's limit): the values then, ``changed_fields`` (fields with a version since
the read's start), ``origin`` (``sourceType:sourceId`` of the newest version) and ``echo``
(every new version written by this app: ``INTEGRATION`` with its app id). Each id newly in
``hs_merged_object_ids`` is reported ``MERGED`` into the survivor.

**Tombstones.** Archiving does not move ``lastmodifieddate`` and search never returns archived
contacts, so the archived list (``?archived=true``, id order, no filter) is walked a page a
read once search is caught up, a lap at a time; a lap reports archives whose ``archivedAt`` is
later than the latest one seen by the end of the lap two before it, so one archived during a
lap, in a page already passed, is reported by the next lap (an archive may be reported
twice; never missed). A restore moves the stamp and comes back as an upsert. Webhooks
(``webhooks.py``) report archives within seconds; this is the safety net.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crmsync.domain.records import Change, ChangeKind, ChangePage, RemoteRecord
from crmsync.providers.hubspot.client import HubSpotClient
from crmsync.providers.hubspot.cursor import FORWARD, TAIL, Position, millis

SEARCH_PAGE = 200
SEARCH_CAP = 10_000
HISTORY_BATCH = 50
ARCHIVED_PAGE = 100
EDGE_CAP = 1_000
"""At most this many contacts kept in the cursor's edge; beyond it, older ones in the window
may be delivered again (the engine's shadows make a repeat a no-op)."""
DEFAULT_OVERLAP_SECONDS = 60.0
MODIFIED = "lastmodifieddate"
OBJECT_ID = "hs_object_id"
MERGED_IDS = "hs_merged_object_ids"
INTEGRATION = "INTEGRATION"


@dataclass(frozen=True)
class Found:
    """A contact search found: its id and the stamp search had for it."""

    crm_id: str
    stamp: str

    @property
    def millis(self) -> int:
        return millis(self.stamp)


def _filter(name: str, operator: str, value: int) -> dict[str, Any]:
    return {"propertyName": name, "operator": operator, "value": str(value)}


def _found(page: dict[str, Any]) -> list[Found]:
    rows = []
    for contact in page.get("results", []):
        stamp = (contact.get("properties") or {}).get(MODIFIED) or contact.get("updatedAt")
        rows.append(Found(str(contact["id"]), str(stamp)))
    return rows


class ChangeReader:
    def __init__(
        self,
        client: HubSpotClient,
        *,
        app_id: str | None,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    ) -> None:
        self.client = client
        self.app_id = app_id
        self.overlap = int(overlap_seconds * 1000)
        self.server_ms: int | None = None
        """HubSpot's time at the first search answer of the read (its ``Date`` header)."""

    async def _search(
        self, groups: list[list[dict[str, Any]]], sort: str, after: int = 0
    ) -> tuple[list[Found], bool]:
        """One page found, and whether there is more; notes HubSpot's time of the answer."""
        body: dict[str, Any] = {
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": [MODIFIED],
            "limit": SEARCH_PAGE,
        }
        if groups:
            body["filterGroups"] = [{"filters": g} for g in groups]
        if after:
            body["after"] = str(after)
        page, at = await self.client.search(body)
        if at is not None:
            self.server_ms = at if self.server_ms is None else min(self.server_ms, at)
        return _found(page), bool(page.get("paging"))

    async def _forward(self, pos: Position) -> tuple[list[Found], bool]:
        """Strictly after the position; returns what to deliver and whether it caught up."""
        if pos.last_id is None:
            groups = [[_filter(MODIFIED, "GTE", pos.stamp)]] if pos.stamp else []
        else:
            groups = [
                [_filter(MODIFIED, "GT", pos.stamp)],
                [_filter(MODIFIED, "EQ", pos.stamp), _filter(OBJECT_ID, "GT", pos.last_id)],
            ]
        rows, more = await self._search(groups, MODIFIED)
        if not more:
            return rows, True
        last = rows[-1].millis
        if rows[0].millis != last:
            pos.stamp, pos.last_id = last, None
            return [r for r in rows if r.millis < last], False
        # a tie as large as a page: read it in id order
        after_id = pos.last_id if pos.stamp == last and pos.last_id else 0
        tie = [_filter(MODIFIED, "EQ", last), _filter(OBJECT_ID, "GT", after_id)]
        rows, _ = await self._search([tie], OBJECT_ID)
        pos.stamp, pos.last_id = last, int(rows[-1].crm_id) if rows else after_id
        return rows, False

    async def _tail(self, pos: Position) -> tuple[list[Found], bool]:
        """From one overlap window behind the position, paging until the end, a page's worth
        of new contacts, or the 10,000-result cap (then on from the last stamp, no window)."""
        groups = [[_filter(MODIFIED, "GTE", pos.window_start(self.overlap))]] if pos.stamp else []
        scanned: list[Found] = []
        while True:
            rows, more = await self._search(groups, MODIFIED, after=len(scanned))
            scanned += rows
            fresh = [r for r in scanned if pos.edge.get(r.crm_id) != r.millis]
            if not more:
                return scanned, True
            if len(fresh) >= SEARCH_PAGE or len(scanned) + SEARCH_PAGE > SEARCH_CAP:
                last = scanned[-1].millis
                pos.mode, pos.last_id, pos.stamp = FORWARD, None, last
                return [r for r in scanned if r.millis < last], False

    async def read(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        pos = Position.decode(cursor)
        since = pos.window_start(self.overlap) if pos.mode == TAIL and pos.stamp else pos.stamp
        self.server_ms = None
        windowed = pos.mode == TAIL  # this read sees the whole window behind the stamp
        if windowed:
            rows, caught_up = await self._tail(pos)
        else:
            rows, caught_up = await self._forward(pos)
        fresh = [r for r in rows if pos.edge.get(r.crm_id) != r.millis]
        # a contact delivered before (in the edge) changed after that stamp; others since the
        # read's start: the versions after that are what changed
        starts = {
            r.crm_id: pos.edge[r.crm_id] + 1 if r.crm_id in pos.edge else since for r in fresh
        }
        if caught_up:
            # a tail read saw the whole window: what it found is the edge; a forward read
            # adds to the edge the reads before it kept
            seen = {r.crm_id: r.millis for r in rows}
            pos.edge = seen if pos.mode == TAIL else {**pos.edge, **seen}
            pos.stamp = max([pos.stamp, *seen.values()])
            pos.last_id, pos.mode = None, TAIL
            late = self.server_ms is None or self.server_ms - self.overlap < pos.stamp
            if windowed and not late:
                pos.settled = pos.stamp  # nothing stamped before it can still show up late
        else:
            pos.edge.update({r.crm_id: r.millis for r in fresh})
        pos.edge = _prune(pos.edge, pos.window_start(self.overlap))
        changes = await self._upserts(fresh, fields, starts)
        lap_done = True
        if caught_up:
            changes += await self._archived(pos)
            lap_done = pos.archived_after is None
        changes.sort(key=lambda c: millis(c.stamp) if c.stamp else 0)
        return ChangePage(changes, cursor=pos.encode(), more=not (caught_up and lap_done))

    async def _upserts(
        self, rows: Sequence[Found], fields: Sequence[str], starts: dict[str, int]
    ) -> list[Change]:
        stamps = {r.crm_id: r.stamp for r in rows}
        ids = list(stamps)
        wanted = sorted({*fields, MERGED_IDS})
        changes: list[Change] = []
        for start in range(0, len(ids), HISTORY_BATCH):
            chunk = ids[start : start + HISTORY_BATCH]
            for contact in await self.client.batch_read(chunk, [*wanted, MODIFIED], wanted):
                crm_id = str(contact["id"])
                stamp = stamps.get(crm_id) or _modified(contact) or ""
                since = starts.get(crm_id, 0)
                changes += self._contact_changes(contact, stamp, fields, since)
        return changes

    def _contact_changes(
        self, contact: dict[str, Any], stamp: str, fields: Sequence[str], since: int
    ) -> list[Change]:
        crm_id = str(contact["id"])
        properties = contact.get("properties") or {}
        history: dict[str, list[dict[str, Any]]] = contact.get("propertiesWithHistory") or {}
        record = RemoteRecord(
            crm_id=crm_id,
            fields={name: properties.get(name) or None for name in fields},
            modified_at=_modified(contact),
        )
        new = {
            name: [v for v in history.get(name, []) if millis(str(v["timestamp"])) >= since]
            for name in fields
        }
        versions = [v for name in fields for v in new[name]]
        newest = max(versions, key=lambda v: millis(str(v["timestamp"])), default=None)
        changes = [
            Change(
                ChangeKind.UPSERTED,
                crm_id,
                stamp,
                record=record,
                changed_fields=frozenset(name for name in fields if new[name]),
                origin=_origin(newest) if newest else None,
                echo=bool(versions) and all(self._is_own(v) for v in versions),
            )
        ]
        merged = history.get(MERGED_IDS, [])
        before = next((v for v in merged if millis(str(v["timestamp"])) < since), None)
        known = set(_ids(before["value"])) if before else set()
        newest_merge = merged[0] if merged else None
        for old in _ids(properties.get(MERGED_IDS)):
            if old not in known and old != crm_id:
                changes.append(
                    Change(
                        ChangeKind.MERGED,
                        old,
                        stamp,
                        merged_into=crm_id,
                        origin=_origin(newest_merge) if newest_merge else None,
                        echo=bool(newest_merge) and self._is_own(newest_merge or {}),
                    )
                )
        return changes

    def _is_own(self, version: dict[str, Any]) -> bool:
        return (
            self.app_id is not None
            and version.get("sourceType") == INTEGRATION
            and str(version.get("sourceId")) == self.app_id
        )

    async def _archived(self, pos: Position) -> list[Change]:
        """One page of the archived list, in the lap in progress (see the module's notes)."""
        page = await self.client.archived_page(pos.archived_after, ARCHIVED_PAGE)
        changes = []
        for contact in page.get("results", []):
            archived_at = contact.get("archivedAt")
            if not archived_at:
                continue
            at = millis(str(archived_at))
            pos.archived_latest = max(pos.archived_latest, at)
            if at > pos.archived_floor:
                crm_id = str(contact["id"])
                record = RemoteRecord(crm_id, modified_at=_modified(contact), archived=True)
                changes.append(Change(ChangeKind.DELETED, crm_id, str(archived_at), record=record))
        token = ((page.get("paging") or {}).get("next") or {}).get("after")
        if token:
            pos.archived_after = str(token)
        else:
            pos.archived_after = None
            pos.archived_floor, pos.archived_seen = pos.archived_seen, pos.archived_latest
        return changes


def _prune(edge: dict[str, int], floor: int) -> dict[str, int]:
    kept = {cid: at for cid, at in edge.items() if at >= floor}
    if len(kept) > EDGE_CAP:
        newest = sorted(kept.items(), key=lambda item: item[1])[-EDGE_CAP:]
        kept = dict(newest)
    return kept


def _modified(contact: dict[str, Any]) -> str | None:
    value = (contact.get("properties") or {}).get(MODIFIED) or contact.get("updatedAt")
    return str(value) if value else None


def _origin(version: dict[str, Any]) -> str:
    source_type = str(version.get("sourceType") or "UNKNOWN")
    source_id = version.get("sourceId")
    return f"{source_type}:{source_id}" if source_id else source_type


def _ids(value: object) -> list[str]:
    return [part for part in str(value or "").split(";") if part]
