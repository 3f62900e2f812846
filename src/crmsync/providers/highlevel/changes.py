"""HighLevel's change feed: what changed since a cursor, read from contact search.

**Upserts.** ``POST /contacts/search`` filtered on ``dateUpdated`` (``range gte``) and sorted
by it, ascending, 500 a call (HighLevel's largest page). A scan pages on with the
``searchAfter`` of its last contact (``[dateUpdated, id]``: a total order, ties included, and
no 10,000-result cap, which binds only ``page * pageLimit``), keeping its filter, until a
page is not full; its cursor is saved after every page, so a scan interrupted goes on where it
stood.

**Indexing delay.** HighLevel says "updates may take a few seconds to appear in search
results". A new scan starts ``overlap_seconds`` (default 30) behind the latest stamp delivered
and delivers only contacts it has not delivered at that stamp (the cursor's ``edge``): a write
that became searchable late is still read, and a quiet read delivers nothing. Every write
older than ``overlap_seconds`` before the last scan caught up (HighLevel's ``Date`` then) was
searchable by then, so a new scan starts no earlier than that either (nor later than the
latest stamp): a quiet location's reads do not scan the same window again and again.

**Tombstones.** A deleted contact leaves plain searches; a second scan, the same way, reads
the deleted ones (``deleted eq true``, whose ``dateUpdated`` is the delete; unconfirmed) once
the live scan is caught up. Should HighLevel refuse that filter, deletes come from the
``ContactDelete`` webhook alone. A restore moves ``dateUpdated`` and comes back as an upsert.

**Origin.** HighLevel marks no origin; a change with the ``dateUpdated`` a write of crmsync's
got back (``echo.OwnWrites``) is crmsync's own (``echo``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.domain.records import Change, ChangeKind, ChangePage
from crmsync.errors import RecordRejected
from crmsync.providers.highlevel.client import SEARCH_PAGE_LIMIT, HighLevelClient
from crmsync.providers.highlevel.cursor import Position, Scan, iso, millis
from crmsync.providers.highlevel.echo import OwnWrites
from crmsync.providers.highlevel.reading import MODIFIED, remote_record

log = logging.getLogger(__name__)

DEFAULT_OVERLAP_SECONDS = 30.0
EDGE_CAP = 2_000
"""At most this many contacts kept in a scan's edge; beyond it, older ones in the window may
be delivered again (the engine's shadows make a repeat a no-op)."""


def _search_body(scan: Scan, deleted: bool) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if scan.since is not None:
        filters.append({"field": MODIFIED, "operator": "range", "value": {"gte": iso(scan.since)}})
    if deleted:
        filters.append({"field": "deleted", "operator": "eq", "value": True})
    body: dict[str, Any] = {
        "pageLimit": SEARCH_PAGE_LIMIT,
        "filters": filters,
        "sort": [{"field": MODIFIED, "direction": "asc"}],
    }
    if scan.after is not None:
        body["searchAfter"] = scan.after
    return body


class ChangeReader:
    def __init__(
        self,
        client: HighLevelClient,
        own: OwnWrites,
        overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    ) -> None:
        self.client = client
        self.own = own
        self.overlap = int(overlap_seconds * 1000)

    async def _advance(self, scan: Scan, deleted: bool) -> tuple[list[dict[str, Any]], bool]:
        """One page of a scan: the contacts it had not delivered, and whether more are due."""
        if scan.after is None:
            scan.since = self._start(scan)
        contacts, server_ms = await self.client.search(_search_body(scan, deleted))
        fresh = [c for c in contacts if scan.edge.get(str(c["id"])) != millis(str(c[MODIFIED]))]
        for contact in fresh:
            scan.edge[str(contact["id"])] = millis(str(contact[MODIFIED]))
        scan.stamp = max([scan.stamp, *(millis(str(c[MODIFIED])) for c in contacts)])
        full = len(contacts) >= SEARCH_PAGE_LIMIT
        last_after = contacts[-1].get("searchAfter") if contacts else None
        if full and isinstance(last_after, list):
            scan.after = last_after
        else:
            scan.after, scan.since, full = None, None, False
            scan.seen = max(scan.seen, server_ms or 0)
        scan.edge = _prune(scan.edge, self._start(scan) or 0)
        return fresh, full

    def _start(self, scan: Scan) -> int | None:
        """Where a new scan starts (None: at the first contact)."""
        if not scan.stamp:
            return None
        return max(scan.stamp - self.overlap, min(scan.stamp, scan.seen - self.overlap), 0)

    async def _deleted(self, scan: Scan) -> tuple[list[dict[str, Any]], bool]:
        try:
            return await self._advance(scan, deleted=True)
        except RecordRejected as exc:  # the filter refused: webhooks report deletes
            log.warning("HighLevel refused the search for deleted contacts: %s", exc)
            return [], False

    async def read(
        self, cursor: str | None, fields: Sequence[str], field_ids: Mapping[str, str]
    ) -> ChangePage:
        pos = Position.decode(cursor)
        live, more = await self._advance(pos.live, deleted=False)
        gone: list[dict[str, Any]] = []
        if not more:
            gone, more = await self._deleted(pos.gone)
        changes = [self._change(c, fields, field_ids, ChangeKind.UPSERTED) for c in live]
        changes += [self._change(c, fields, field_ids, ChangeKind.DELETED) for c in gone]
        changes.sort(key=lambda c: (millis(c.stamp), c.crm_id))
        return ChangePage(changes, cursor=pos.encode(), more=more)

    def _change(
        self,
        contact: Mapping[str, Any],
        fields: Sequence[str],
        field_ids: Mapping[str, str],
        kind: ChangeKind,
    ) -> Change:
        record = remote_record(contact, fields, field_ids)
        stamp = record.modified_at or ""
        return Change(
            kind,
            record.crm_id,
            stamp,
            record=record,
            echo=self.own.is_own(record.crm_id, record.modified_at),
        )


def _prune(edge: dict[str, int], floor: int) -> dict[str, int]:
    kept = {cid: at for cid, at in edge.items() if at >= floor}
    if len(kept) > EDGE_CAP:
        kept = dict(sorted(kept.items(), key=lambda item: item[1])[-EDGE_CAP:])
    return kept
