"""One batch's bookkeeping: plan each person, then record what the CRM said, durably.

This is the engine's hot path, so it speaks to the database in set-based statements: one
query per table to read, one ``INSERT … RETURNING`` or update-by-primary-key per table to
write, whatever the batch size.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.connectors.base import RecordWrite, WriteOutcome
from crmsync.db.bulk import insert_returning_ids, update_by_id
from crmsync.db.tables import (
    Connection,
    Link,
    Operation,
    OpStatus,
    Person,
    WorkItem,
    naive_utc,
    utcnow,
)
from crmsync.engine import outbox
from crmsync.engine.outbox import Claimed
from crmsync.engine.planner import (
    after_write,
    desired_fields,
    fingerprint,
    person_values,
    plan_write,
)
from crmsync.engine.reads import first_unlockers, load_mappings
from crmsync.engine.runtime import Runtime
from crmsync.errors import Action, Resolution
from crmsync.metrics import SYNC_LATENCY
from crmsync.redact import redact


@dataclass(slots=True)
class InFlight:
    """A write sent to the CRM whose outcome is not recorded yet (tens of thousands are held
    at once during a bulk job: slotted, and holding no more than the outcome needs)."""

    item_id: int
    operation_id: int | None
    """The attempt's open log row; ``None`` until its outcome is known (see ``_settle``)."""
    link_id: int
    attempts: int
    sent: dict[str, Any]
    written: dict[str, Any]
    crm_id: str | None
    queued_at: datetime
    person_id: str = ""
    lane: str = ""
    first_write: bool = False
    retry_of: int | None = None
    opened_at: datetime | None = None
    """For a first attempt (no log row yet): what its row is written with at the outcome."""


_FINAL = {Action.FAIL: OpStatus.FAILED, Action.SKIP: OpStatus.SKIPPED}
PLAN_CHUNK = 500
"""People planned per transaction: keeps every IN list well under database parameter limits."""
_OPEN = (OpStatus.PENDING, OpStatus.RETRYING, OpStatus.WAITING_RECONNECT)


class BatchRecorder:
    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.connection_id = conn.id
        self.org_id = conn.org_id
        self.crm_object = rt.spec(conn.provider).crm_object
        self.owners: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.inflight: dict[str, InFlight] = {}
        with rt.db.session() as session:
            self.mappings = load_mappings(session, conn.id)

    def plan(self, batch: list[Claimed]) -> list[RecordWrite]:
        """Plan every claimed item; unchanged people are logged and finished right here."""
        writes: list[RecordWrite] = []
        for start in range(0, len(batch), PLAN_CHUNK):
            writes += self._plan_chunk(batch[start : start + PLAN_CHUNK])
        return writes

    def _plan_chunk(self, batch: list[Claimed]) -> list[RecordWrite]:
        ids = [item.person_id for item in batch]
        now = utcnow()
        with self.rt.db.session() as session:
            preserve = bool(
                session.scalar(
                    select(Connection.preserve_manual_edits).where(
                        Connection.id == self.connection_id
                    )
                )
            )
            people = {
                p.person_id: p
                for p in session.scalars(select(Person).where(Person.person_id.in_(ids)))
            }
            links = {
                row.person_id: row
                for row in session.execute(
                    select(
                        Link.id, Link.person_id, Link.crm_id, Link.written, Link.pending_create_at
                    ).where(Link.connection_id == self.connection_id, Link.person_id.in_(ids))
                )
            }
            owner_emails = first_unlockers(session, self.org_id, ids)
            open_ops = self._open_operations(session, batch)
            op_rows: list[dict[str, Any]] = []  # one per item, in batch order
            writes: list[tuple[Claimed, RecordWrite]] = []
            for item in batch:
                person = people.get(item.person_id)
                if person is None:
                    op_rows.append(self._final(item, OpStatus.FAILED, "the person is gone"))
                    continue
                values = person_values(person, self.rt.settings.profile_url_template)
                owner_id = self.owners.get((owner_emails.get(item.person_id) or "").lower())
                desired = desired_fields(values, self.mappings, owner_id)
                link = links.get(item.person_id)
                written = dict(link.written) if link is not None and link.crm_id else None
                plan = plan_write(desired, self.mappings, written, preserve)
                if plan.unchanged:
                    crm_id = link.crm_id if link is not None else None
                    op_rows.append(self._final(item, OpStatus.UNCHANGED, plan.reason, crm_id))
                    continue
                op_rows.append(
                    {
                        **self._op_base(item),
                        "status": OpStatus.PENDING,
                        # summarised (redacted) only if an open row is continued: a first
                        # attempt's row is written at its outcome (``_deferred_row``)
                        "request_summary": (plan.first_write, plan.send),
                    }
                )
                writes.append(
                    (
                        item,
                        RecordWrite(
                            person_id=item.person_id,
                            fields=plan.send,
                            crm_id=link.crm_id if link is not None else None,
                            first_write=plan.first_write,
                            create_may_have_landed=link is not None
                            and link.pending_create_at is not None,
                        ),
                    )
                )
            op_ids, deferred = self._save_operations(session, batch, op_rows, open_ops)
            link_ids = self._mark_pending_creates(session, [w for _, w in writes], links, now)
            for item, write in writes:
                link = links.get(item.person_id)
                self.inflight[item.person_id] = InFlight(
                    item_id=item.id,
                    operation_id=op_ids.get(item.id),
                    link_id=link_ids[item.person_id],
                    attempts=item.attempts,
                    sent=write.fields,
                    written=dict(link.written) if link is not None and link.crm_id else {},
                    crm_id=write.crm_id,
                    queued_at=item.created_at,
                    person_id=item.person_id,
                    lane=item.lane,
                    first_write=write.first_write,
                    retry_of=deferred.get(item.id),
                    opened_at=now,
                )
            done = [item.id for item in batch if item.person_id not in self.inflight]
            outbox.finish(session, done)
            self._touch_unchanged_links(session, batch, links, op_rows)
        return [write for _, write in writes]

    def record(self, outcomes: list[WriteOutcome]) -> None:
        """Record what the CRM said, in one transaction (run again if the database breaks a
        deadlock). The people stay in flight until it commits: if it cannot, the run's
        ``abandon`` puts their work back."""
        now = utcnow()
        op_updates: list[tuple[InFlight, dict[str, Any]]] = []
        link_updates: list[dict[str, Any]] = []
        retries: list[tuple[InFlight, Resolution]] = []
        finished: list[int] = []
        for outcome in outcomes:
            flight = self.inflight[outcome.person_id]
            resolution = outcome.resolution
            summary = redact(outcome.response_summary)
            if resolution is None:
                crm_id = outcome.crm_id or flight.crm_id
                written = after_write(flight.written, flight.sent)
                status = OpStatus.INSERTED if outcome.created else OpStatus.UPDATED
                latency = (naive_utc(now) - naive_utc(flight.queued_at)).total_seconds()
                SYNC_LATENCY.observe(max(0.0, latency))
                op_updates.append(
                    (flight, self._op_update(flight, status, "", None, crm_id, summary))
                )
                link_updates.append(
                    {
                        "id": flight.link_id,
                        "crm_id": crm_id,
                        "written": written,
                        "fingerprint": fingerprint(written),
                        "pending_create_at": None,
                        "last_synced_at": now,
                        "last_status": status,
                    }
                )
                finished.append(flight.item_id)
            elif resolution.action in _FINAL:
                status = _FINAL[resolution.action]
                change = self._op_update(
                    flight, status, resolution.reason, resolution.code, flight.crm_id, summary
                )
                op_updates.append((flight, change))
                link_updates.append(
                    {
                        "id": flight.link_id,
                        "crm_id": flight.crm_id,
                        "written": flight.written,
                        "fingerprint": fingerprint(flight.written),
                        "pending_create_at": None,
                        "last_synced_at": now,
                        "last_status": status,
                    }
                )
                finished.append(flight.item_id)
            else:
                retries.append((flight, resolution))

        def write(session: Session) -> None:
            self._settle(session, op_updates)
            update_by_id(session, Link, link_updates)
            outbox.finish(session, finished)
            for flight, resolution in retries:
                self._retry(session, flight, resolution)

        self.rt.db.transaction(write)
        for outcome in outcomes:
            self.inflight.pop(outcome.person_id, None)

    def retry_later(self, resolution: Resolution, people: set[str]) -> None:
        """A request hit a transient problem: its people wait and retry (an attempt counts);
        planned people whose request was never sent go back without one (``abandon``)."""
        flights = [self.inflight.pop(p) for p in people if p in self.inflight]

        def write(session: Session) -> None:
            for flight in flights:
                self._retry(session, flight, resolution)

        self.rt.db.transaction(write)

    def pause(self, reason: str) -> None:
        """Authorisation lost: keep every in-flight item queued until the reconnect."""
        flights = list(self.inflight.values())
        self.inflight.clear()
        if not flights:
            return
        with self.rt.db.session() as session:
            waiting = {"status": OpStatus.WAITING_RECONNECT, "reason": reason}
            self._settle(
                session,
                [(f, {"id": f.operation_id, **waiting, "updated_at": utcnow()}) for f in flights],
                keep_items=True,
            )
            outbox.release(session, [f.item_id for f in flights], utcnow(), count_attempt=False)

    def abandon(self) -> None:
        """Anything still in flight after an unexpected error goes back, no attempt counted."""
        if not self.inflight:
            return
        with self.rt.db.session() as session:
            ids = [flight.item_id for flight in self.inflight.values()]
            self.inflight.clear()
            outbox.release(session, ids, utcnow(), count_attempt=False)

    def _retry(self, session: Session, flight: InFlight, resolution: Resolution) -> None:
        from crmsync.engine.runner import backoff

        settings = self.rt.settings
        counts = resolution.action not in (Action.RATE_LIMITED, Action.DEFER)
        if counts and flight.attempts + 1 >= settings.max_attempts:
            reason = f"gave up after {flight.attempts + 1} attempts: {resolution.reason}"
            failed = self._op_update(flight, OpStatus.FAILED, reason, resolution.code, None, {})
            self._settle(session, [(flight, failed)])
            outbox.finish(session, [flight.item_id])
            return
        delay = backoff(
            flight.attempts, settings.retry_base_seconds, settings.retry_max_seconds, resolution
        )
        reason = f"{resolution.reason} (retrying in {delay:.0f}s)"
        retrying = {"status": OpStatus.RETRYING, "reason": reason, "updated_at": utcnow()}
        self._settle(session, [(flight, {"id": flight.operation_id, **retrying})], keep_items=True)
        self.counts[OpStatus.RETRYING] += 1
        outbox.release(
            session, [flight.item_id], utcnow() + timedelta(seconds=delay), count_attempt=counts
        )

    def _op_base(self, item: Claimed) -> dict[str, Any]:
        now = utcnow()
        return {
            "org_id": self.org_id,
            "connection_id": self.connection_id,
            "person_id": item.person_id,
            "lane": item.lane,
            "reason": "",
            "code": None,
            "crm_id": None,
            "request_summary": {},
            "response_summary": {},
            "attempts": 1,
            "retry_of": None,
            "created_at": now,
            "updated_at": now,
        }

    def _deferred_row(self, flight: InFlight) -> dict[str, Any]:
        """A first attempt's log row as it was planned (``_plan_chunk``'s PENDING row)."""
        summary = request_summary(flight.first_write, flight.sent)
        return {
            "org_id": self.org_id,
            "connection_id": self.connection_id,
            "person_id": flight.person_id,
            "lane": flight.lane,
            "status": OpStatus.PENDING,
            "reason": "",
            "code": None,
            "crm_id": None,
            "request_summary": summary,
            "response_summary": {},
            "attempts": 1,
            "retry_of": flight.retry_of,
            "created_at": flight.opened_at,
            "updated_at": flight.opened_at,
        }

    def _final(
        self, item: Claimed, status: OpStatus, reason: str, crm_id: str | None = None
    ) -> dict[str, Any]:
        self.counts[status] += 1
        return {**self._op_base(item), "status": status, "reason": reason, "crm_id": crm_id}

    def _op_update(
        self,
        flight: InFlight,
        status: OpStatus,
        reason: str,
        code: str | None,
        crm_id: str | None,
        summary: dict[str, Any],
    ) -> dict[str, Any]:
        self.counts[status] += 1
        return {
            "id": flight.operation_id,
            "status": status,
            "reason": reason,
            "code": code,
            "crm_id": crm_id,
            "response_summary": summary,
            "updated_at": utcnow(),
        }

    def _open_operations(self, session: Session, batch: list[Claimed]) -> dict[int, Any]:
        """Log rows of earlier attempts at these items: still open ones are continued."""
        ids = [item.operation_id for item in batch if item.operation_id]
        if not ids:
            return {}
        rows = session.execute(
            select(Operation.id, Operation.status, Operation.attempts).where(Operation.id.in_(ids))
        )
        return {row.id: row for row in rows}

    def _save_operations(
        self,
        session: Session,
        batch: list[Claimed],
        rows: list[dict[str, Any]],
        earlier: dict[int, Any],
    ) -> tuple[dict[int, int], dict[int, int | None]]:
        """Continue open log rows and insert the settled ones. A first attempt's row waits
        for its outcome (one INSERT instead of an INSERT and an UPDATE per record; see
        ``_deferred_row``): returns work item id → operation id, and for deferred rows work
        item id → the earlier attempt's row it retries, if any."""
        op_ids: dict[int, int] = {}
        deferred: dict[int, int | None] = {}
        continued: list[dict[str, Any]] = []
        fresh: list[tuple[Claimed, dict[str, Any]]] = []
        for item, row in zip(batch, rows, strict=True):
            prior = earlier.get(item.operation_id) if item.operation_id else None
            if prior is not None and prior.status in _OPEN:
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
                fresh.append((item, {**row, "retry_of": prior.id if prior else None}))
        if continued:
            update_by_id(session, Operation, continued)
        if fresh:
            new_ids = insert_returning_ids(session, Operation, [row for _, row in fresh])
            op_ids.update({item.id: op_id for (item, _), op_id in zip(fresh, new_ids, strict=True)})
        return op_ids, deferred

    def _settle(
        self,
        session: Session,
        entries: list[tuple[InFlight, dict[str, Any]]],
        keep_items: bool = False,
    ) -> None:
        """Write each attempt's log row: update the open one, or insert the deferred row.

        ``keep_items``: the work items stay queued (retry, reconnect), so they point at their
        new rows and the next attempt continues the same log row.
        """
        updates = [change for flight, change in entries if flight.operation_id is not None]
        update_by_id(session, Operation, updates)
        fresh = [(f, change) for f, change in entries if f.operation_id is None]
        if not fresh:
            return
        rows = [
            {**self._deferred_row(f), **{k: v for k, v in c.items() if k != "id"}} for f, c in fresh
        ]
        new_ids = insert_returning_ids(session, Operation, rows)
        if keep_items:  # (flights stay untouched: the transaction may run again)
            links = [
                {"id": f.item_id, "operation_id": op_id}
                for (f, _), op_id in zip(fresh, new_ids, strict=True)
            ]
            update_by_id(session, WorkItem, links)

    def _mark_pending_creates(
        self, session: Session, writes: list[RecordWrite], links: dict[str, Any], now: Any
    ) -> dict[str, int]:
        """A durable marker before any create is sent, so a lost response is searched for."""
        ids = {pid: row.id for pid, row in links.items()}
        missing = [w for w in writes if w.person_id not in links]
        if missing:
            rows = [
                {
                    "connection_id": self.connection_id,
                    "person_id": w.person_id,
                    "crm_object": self.crm_object,
                    "crm_ids": {},
                    "written": {},
                    "pending_create_at": now,
                    "created_at": now,
                }
                for w in missing
            ]
            new_ids = insert_returning_ids(session, Link, rows)
            ids.update({w.person_id: i for w, i in zip(missing, new_ids, strict=True)})
        marks = [
            {"id": links[w.person_id].id, "pending_create_at": now}
            for w in writes
            if w.person_id in links
            and w.crm_id is None
            and links[w.person_id].pending_create_at is None
        ]
        if marks:
            update_by_id(session, Link, marks)
        return ids

    def _touch_unchanged_links(
        self,
        session: Session,
        batch: list[Claimed],
        links: dict[str, Any],
        rows: list[dict[str, Any]],
    ) -> None:
        touched = [
            {"id": links[item.person_id].id, "last_status": OpStatus.UNCHANGED}
            for item, row in zip(batch, rows, strict=True)
            if row["status"] == OpStatus.UNCHANGED and item.person_id in links
        ]
        if touched:
            update_by_id(session, Link, touched)


def request_summary(first_write: bool, send: dict[str, Any]) -> dict[str, Any]:
    """What the log shows of a write: whether it created the record, and its fields masked."""
    return {"first_write": first_write, "fields": redact(send)}
