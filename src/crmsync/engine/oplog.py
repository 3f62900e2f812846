"""The integration log's rows for one connection: one row per attempted write of a record.

A first attempt's row is written once, at its outcome (one INSERT, not an INSERT and an
UPDATE per record); a retried attempt continues its earlier row, so the log keeps one row per
write however many tries it took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.setwrites import insert_returning_ids, insert_rows, update_by_id
from crmsync.db.tables import Operation, WorkItem, utcnow
from crmsync.domain.enums import OpStatus
from crmsync.domain.keys import CONTACT
from crmsync.engine.outbox import Claimed
from crmsync.redact import redact

OPEN = (OpStatus.PENDING, OpStatus.RETRYING, OpStatus.WAITING_RECONNECT)
"""A log row in one of these states is continued by the record's next attempt."""


@dataclass(slots=True)
class InFlight:
    """A write sent to the CRM whose outcome is not recorded yet (tens of thousands are held
    at once during a bulk job: slotted, and holding no more than the outcome needs)."""

    item_id: int
    operation_id: int | None
    """The attempt's open log row; ``None`` until its outcome is known (see ``settle``)."""
    attempts: int
    sent: dict[str, Any]
    written: dict[str, Any]
    crm_id: str | None
    queued_at: datetime
    local_id: str = ""
    lane: str = ""
    first_write: bool = False
    retry_of: int | None = None
    opened_at: datetime | None = None
    """For a first attempt (no log row yet): what its row is written with at the outcome."""


class OpLog:
    def __init__(self, org_id: str, connection_id: str, object_type: str = CONTACT) -> None:
        self.org_id = org_id
        self.connection_id = connection_id
        self.object_type = object_type

    def base(self, item: Claimed, now: datetime) -> dict[str, Any]:
        """A new row for ``item``'s attempt, without its status."""
        return self._new_row(item.local_id, item.lane, now)

    def _new_row(
        self, local_id: str, lane: str, at: datetime | None, retry_of: int | None = None
    ) -> dict[str, Any]:
        return {
            "org_id": self.org_id,
            "connection_id": self.connection_id,
            "object_type": self.object_type,
            "local_id": local_id,
            "lane": lane,
            "reason": "",
            "code": None,
            "crm_id": None,
            "request_summary": {},
            "response_summary": {},
            "attempts": 1,
            "retry_of": retry_of,
            "created_at": at,
            "updated_at": at,
        }

    def open_rows(self, session: Session, batch: list[Claimed]) -> dict[int, Any]:
        """Rows of earlier attempts at these items: still open ones are continued."""
        ids = [item.operation_id for item in batch if item.operation_id]
        if not ids:
            return {}
        rows = session.execute(
            select(Operation.id, Operation.status, Operation.attempts).where(Operation.id.in_(ids))
        )
        return {row.id: row for row in rows}

    def save_planned(
        self,
        session: Session,
        batch: list[Claimed],
        rows: list[dict[str, Any]],
        earlier: dict[int, Any],
    ) -> tuple[dict[int, int], dict[int, int | None]]:
        """Continue open rows and insert the settled ones (unchanged, failed); a first
        attempt's row waits for its outcome (``InFlight.opened_at``). Returns work item id →
        continued row id, and for first attempts work item id → the earlier attempt's row
        they retry, if any."""
        op_ids: dict[int, int] = {}
        deferred: dict[int, int | None] = {}
        continued: list[dict[str, Any]] = []
        fresh: list[dict[str, Any]] = []
        for item, row in zip(batch, rows, strict=True):
            prior = earlier.get(item.operation_id) if item.operation_id else None
            if prior is not None and prior.status in OPEN:
                op_ids[item.id] = prior.id
                keep = ("status", "reason", "crm_id", "updated_at")
                summary = row["request_summary"]
                if isinstance(summary, tuple):
                    summary = request_summary(*summary)
                continued.append(
                    {
                        "id": prior.id,
                        "attempts": prior.attempts + 1,
                        "request_summary": summary,
                        **{k: row[k] for k in keep},
                    }
                )
            elif row["status"] == OpStatus.PENDING:
                deferred[item.id] = prior.id if prior else None
            else:
                fresh.append({**row, "retry_of": prior.id if prior else None})
        update_by_id(session, Operation, continued)
        insert_rows(session, Operation, fresh)
        return op_ids, deferred

    def settle(
        self,
        session: Session,
        entries: list[tuple[InFlight, dict[str, Any]]],
        keep_items: bool = False,
    ) -> None:
        """Write each attempt's row: update the open one, or insert the first attempt's.

        ``keep_items``: the work items stay queued (retry, reconnect), so they point at their
        new rows and the next attempt continues the same row.
        """
        updates = [change for flight, change in entries if flight.operation_id is not None]
        update_by_id(session, Operation, updates)
        fresh = [(f, change) for f, change in entries if f.operation_id is None]
        if not fresh:
            return
        rows = [
            {**self._first_row(f), **{k: v for k, v in c.items() if k != "id"}} for f, c in fresh
        ]
        if not keep_items:  # the common case: nothing points at these rows
            insert_rows(session, Operation, rows)
            return
        new_ids = insert_returning_ids(session, Operation, rows)
        # (flights stay untouched: the transaction may run again)
        links = [
            {"id": f.item_id, "operation_id": op_id}
            for (f, _), op_id in zip(fresh, new_ids, strict=True)
        ]
        update_by_id(session, WorkItem, links)

    def _first_row(self, flight: InFlight) -> dict[str, Any]:
        """A first attempt's row as it was planned: pending since ``opened_at``."""
        row = self._new_row(flight.local_id, flight.lane, flight.opened_at, flight.retry_of)
        row["status"] = OpStatus.PENDING
        row["request_summary"] = request_summary(flight.first_write, flight.sent)
        return row


def outcome_change(
    flight: InFlight,
    status: OpStatus,
    reason: str,
    code: str | None,
    crm_id: str | None,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """What an outcome changes in the attempt's row."""
    return {
        "id": flight.operation_id,
        "status": status,
        "reason": reason,
        "code": code,
        "crm_id": crm_id,
        "response_summary": summary,
        "updated_at": utcnow(),
    }


def request_summary(first_write: bool, send: dict[str, Any]) -> dict[str, Any]:
    """What the log shows of a write: whether it created the record, and its fields masked."""
    return {"first_write": first_write, "fields": redact(send)}
