"""One batch's bookkeeping: plan each person, then record what the CRM said, durably.

This is the engine's hot path, so it speaks to the database in set-based statements: one
query per table to read and one ``executemany`` per table to write, whatever the batch size;
a request's outcomes are recorded, and the next batch claimed and planned, in one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from crmsync.db.setwrites import update_by_id, upsert_rows
from crmsync.db.tables import Connection, Link, naive_utc, utcnow
from crmsync.domain.enums import OpStatus
from crmsync.domain.keys import CONTACT, RecordKey
from crmsync.domain.mapping import FieldMaps
from crmsync.domain.outcomes import DELETED_IN_CRM, Resolution
from crmsync.domain.writes import RecordWrite, WriteOutcome
from crmsync.engine import org_records, outbox
from crmsync.engine.links import Move, holder, record_moves
from crmsync.engine.oplog import InFlight, OpLog, outcome_change
from crmsync.engine.outbox import Claimed, ClaimRequest
from crmsync.engine.planner import PlanContext, after_write, plan_person
from crmsync.engine.reads import (
    assigned_owners,
    export_options,
    first_unlockers,
    links_of,
    load_flow,
    people_rows,
)
from crmsync.engine.retry import consequence, delay, gives_up
from crmsync.engine.runtime import Runtime
from crmsync.redact import redact

PLAN_CHUNK = 500
"""People planned per transaction: keeps every IN list well under database parameter limits."""
_LINK_KEY = ("connection_id", "object_type", "local_id")
_LINK_OUTCOME = ("crm_id", "written", "pending_create_at", "last_synced_at", "last_status")


@dataclass
class Planned:
    """What planning a batch produced, kept aside until its transaction commits."""

    writes: list[RecordWrite] = field(default_factory=list)
    flights: dict[str, InFlight] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class Recorded:
    """The rows a request's outcomes write."""

    ops: list[tuple[InFlight, dict[str, Any]]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)
    retries: list[tuple[InFlight, Resolution]] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    deleted_in_crm: list[InFlight] = field(default_factory=list)
    """Writes that found their CRM record deleted: the org's record is deactivated."""


class BatchRecorder:
    """Plans and records one connection's writes of the app's contacts (the object type is
    fixed per recorder, so its batches carry local ids only)."""

    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.connection_id = conn.id
        self.org_id = conn.org_id
        self.object_type = CONTACT
        spec = rt.spec(conn.provider)
        self.crm_object = spec.crm_object
        self.marks_creates = not spec.upserts
        self.log = OpLog(conn.org_id, conn.id, self.object_type)
        self.owners: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.inflight: dict[str, InFlight] = {}
        with rt.db.session() as session:
            self.flow = load_flow(session, conn.id)
        contact = self.flow.object_for(CONTACT)
        self.mappings = contact.fields if contact is not None else FieldMaps.of(())

    def record_and_plan(
        self,
        outcomes: list[WriteOutcome],
        claim: ClaimRequest | None,
    ) -> tuple[list[Claimed], list[RecordWrite]]:
        """Record a request's outcomes, then claim and plan the next batch: one transaction
        (one commit a batch, not two), run again whole if the database breaks a deadlock."""
        recorded = self._outcome_rows(outcomes)

        def work(session: Session) -> tuple[list[Claimed], Planned]:
            self._write_outcomes(session, recorded)
            batch = claim.run(session) if claim is not None else []
            planned = Planned()
            for start in range(0, len(batch), PLAN_CHUNK):
                self._plan_chunk(session, batch[start : start + PLAN_CHUNK], planned)
            return batch, planned

        batch, planned = self.rt.db.transaction(work)
        self._forget(outcomes)
        return batch, self._adopt(planned)

    def plan(self, batch: list[Claimed]) -> list[RecordWrite]:
        """Plan every claimed item; unchanged people are logged and finished right here."""
        writes: list[RecordWrite] = []
        for start in range(0, len(batch), PLAN_CHUNK):
            planned = Planned()
            with self.rt.db.session() as session:
                self._plan_chunk(session, batch[start : start + PLAN_CHUNK], planned)
            writes += self._adopt(planned)
        return writes

    def _adopt(self, planned: Planned) -> list[RecordWrite]:
        """Once its transaction committed, a plan's writes are in flight."""
        self.inflight.update(planned.flights)
        self.counts.update(planned.counts)
        return planned.writes

    def _plan_chunk(self, session: Session, batch: list[Claimed], planned: Planned) -> None:
        """Plan into ``planned``, changing nothing outside the session (its transaction may
        run again)."""
        ids = [item.local_id for item in batch]
        now = utcnow()
        preserve, mode = export_options(session, self.connection_id)
        context = PlanContext(
            preserve, self.flow.source, mode, self.rt.settings.profile_url_template
        )
        people = people_rows(session, ids)
        links = links_of(session, self.connection_id, self.object_type, ids)
        owner_emails = first_unlockers(session, self.org_id, ids)
        assigned = assigned_owners(session, self.org_id, self.object_type, ids)
        owner_emails.update(assigned)
        open_ops = self.log.open_rows(session, batch)
        op_rows: list[dict[str, Any]] = []  # one per item, in batch order
        writes: list[tuple[Claimed, RecordWrite]] = []
        for item in batch:
            person = people.get(item.local_id)
            if person is None:
                planned.counts[OpStatus.FAILED] += 1
                op_rows.append(self._final(item, now, OpStatus.FAILED, "the person is gone"))
                continue
            link = links.get(item.local_id)
            crm_id = link["crm_id"] if link is not None else None
            _, plan = plan_person(
                person,
                owner_emails.get(item.local_id),
                link,
                self.mappings,
                self.owners,
                context,
                owner_assigned=item.local_id in assigned,
            )
            if plan.unchanged:
                # held back by the export mode: logged as unchanged, with the mode as reason
                planned.counts[OpStatus.UNCHANGED] += 1
                op_rows.append(self._final(item, now, OpStatus.UNCHANGED, plan.reason, crm_id))
                continue
            op_rows.append(
                {
                    **self.log.base(item, now),
                    "status": OpStatus.PENDING,
                    # summarised (redacted) only if an open row is continued: a first
                    # attempt's row is written at its outcome (``OpLog.settle``)
                    "request_summary": (plan.first_write, plan.send),
                }
            )
            writes.append(
                (
                    item,
                    RecordWrite(
                        local_id=item.local_id,
                        fields=plan.send,
                        crm_id=crm_id,
                        first_write=plan.first_write,
                        create_may_have_landed=link is not None
                        and link["pending_create_at"] is not None,
                    ),
                )
            )
        op_ids, deferred = self.log.save_planned(session, batch, op_rows, open_ops)
        if self.marks_creates:
            self._mark_pending_creates(session, [w for _, w in writes], links, now)
        for item, write in writes:
            link = links.get(item.local_id)
            planned.flights[item.local_id] = InFlight(
                item_id=item.id,
                operation_id=op_ids.get(item.id),
                attempts=item.attempts,
                sent=write.fields,
                written=dict(link["written"]) if link is not None and write.crm_id else {},
                crm_id=write.crm_id,
                queued_at=item.created_at,
                local_id=item.local_id,
                lane=item.lane,
                first_write=write.first_write,
                retry_of=deferred.get(item.id),
                opened_at=now,
            )
        outbox.finish(session, [i.id for i in batch if i.local_id not in planned.flights])
        self._touch_unchanged_links(session, batch, links, op_rows)
        planned.writes += [write for _, write in writes]

    def record(self, outcomes: list[WriteOutcome]) -> None:
        """Record what the CRM said, in one transaction (run again if the database breaks a
        deadlock). The people stay in flight until it commits: if it cannot, the run's
        ``abandon`` puts their work back."""
        recorded = self._outcome_rows(outcomes)
        self.rt.db.transaction(lambda session: self._write_outcomes(session, recorded))
        self._forget(outcomes)

    def _outcome_rows(self, outcomes: list[WriteOutcome]) -> Recorded:
        now = utcnow()
        recorded = Recorded()
        for outcome in outcomes:
            flight = self.inflight[outcome.local_id]
            resolution = outcome.resolution
            summary = redact(outcome.response_summary)
            if resolution is None:
                crm_id = outcome.crm_id or flight.crm_id
                written = after_write(flight.written, flight.sent)
                status = OpStatus.INSERTED if outcome.created else OpStatus.UPDATED
                latency = (naive_utc(now) - naive_utc(flight.queued_at)).total_seconds()
                self.rt.sync_latency.observe(max(0.0, latency))
                change = outcome_change(flight, status, "", None, crm_id, summary)
            elif (final := consequence(resolution).final) is not None:
                status = final
                if resolution.code == DELETED_IN_CRM:
                    recorded.deleted_in_crm.append(flight)
                crm_id, written = flight.crm_id, flight.written
                change = outcome_change(
                    flight, status, resolution.reason, resolution.code, crm_id, summary
                )
            else:
                recorded.retries.append((flight, resolution))
                continue
            self.counts[status] += 1
            recorded.ops.append((flight, change))
            link = self._link_row(flight.local_id, crm_id, written, status, now)
            if resolution is None and outcome.moved is not None and crm_id is not None:
                key = RecordKey(self.connection_id, self.object_type, flight.local_id)
                recorded.moves.append(Move(key, crm_id, outcome.moved))
                link["crm_object"] = outcome.moved.crm_object
            recorded.links.append(link)
            recorded.finished.append(flight.item_id)
        return recorded

    def _write_outcomes(self, session: Session, recorded: Recorded) -> None:
        self.log.settle(session, recorded.ops)
        links, moves = recorded.links, recorded.moves
        if moves:
            links, moves = _settle_moves(session, links, moves)
        upsert_rows(session, Link, links, _LINK_KEY, _LINK_OUTCOME)
        record_moves(session, moves)
        for flight in recorded.deleted_in_crm:  # the push found it first: the read will agree
            record = org_records.org_record(session, self.org_id, self.object_type, flight.local_id)
            org_records.set_active(session, record, False, self.connection_id)
        outbox.finish(session, recorded.finished)
        for flight, resolution in recorded.retries:
            self._retry(session, flight, resolution)

    def _forget(self, outcomes: list[WriteOutcome]) -> None:
        """Recorded: these people are no longer in flight."""
        for outcome in outcomes:
            self.inflight.pop(outcome.local_id, None)

    def retry_later(self, resolution: Resolution, people: set[str]) -> None:
        """A request hit a transient problem: its people wait and retry (an attempt counts);
        planned people whose request was never sent go back without one (``abandon``)."""
        flights = [self.inflight.pop(p) for p in people if p in self.inflight]

        def write(session: Session) -> None:
            for flight in flights:
                self._retry(session, flight, resolution)

        self.rt.db.transaction(write)

    def pause(self, reason: str, status: OpStatus) -> None:
        """The connection paused (authorisation lost, setup required): keep every in-flight
        item queued, no attempt counted, until the admin acts."""
        flights = list(self.inflight.values())
        self.inflight.clear()
        if not flights:
            return
        with self.rt.db.session() as session:
            waiting = {"status": status, "reason": reason}
            self.log.settle(
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
        """The write waits and is tried again, as ``engine.retry.OUTCOMES`` says for its
        outcome, or gives up once a counted attempt reaches ``max_attempts``."""
        settings = self.rt.settings
        counts = consequence(resolution).counts_attempt
        if gives_up(resolution, flight.attempts, settings.max_attempts):
            reason = f"gave up after {flight.attempts + 1} attempts: {resolution.reason}"
            failed = outcome_change(flight, OpStatus.FAILED, reason, resolution.code, None, {})
            self.counts[OpStatus.FAILED] += 1
            self.log.settle(session, [(flight, failed)])
            outbox.finish(session, [flight.item_id])
            return
        wait = delay(
            flight.attempts, settings.retry_base_seconds, settings.retry_max_seconds, resolution
        )
        reason = f"{resolution.reason} (retrying in {wait:.0f}s)"
        retrying = {"status": OpStatus.RETRYING, "reason": reason, "updated_at": utcnow()}
        self.log.settle(session, [(flight, {"id": flight.operation_id, **retrying})], True)
        self.counts[OpStatus.RETRYING] += 1
        outbox.release(
            session, [flight.item_id], utcnow() + timedelta(seconds=wait), count_attempt=counts
        )

    def _final(
        self,
        item: Claimed,
        now: Any,
        status: OpStatus,
        reason: str,
        crm_id: str | None = None,
    ) -> dict[str, Any]:
        return {**self.log.base(item, now), "status": status, "reason": reason, "crm_id": crm_id}

    def _link_row(
        self, local_id: str, crm_id: str | None, written: dict[str, Any], status: str, now: Any
    ) -> dict[str, Any]:
        """A record's link after an outcome: inserted if the record had none (a CRM that
        upserts gets no pending-create marker first), else its outcome columns updated."""
        return {
            "connection_id": self.connection_id,
            "object_type": self.object_type,
            "local_id": local_id,
            "crm_object": self.crm_object,
            "crm_id": crm_id,
            "written": written,
            "pending_create_at": None,
            "last_synced_at": now,
            "last_status": status,
            "created_at": now,
        }

    def _mark_pending_creates(
        self, session: Session, writes: list[RecordWrite], links: dict[str, Any], now: Any
    ) -> None:
        """A durable marker before a create is sent, so a lost response is searched for
        (CRMs that upsert by Person ID need none: the create is simply sent again)."""
        rows = [
            {
                "connection_id": self.connection_id,
                "object_type": self.object_type,
                "local_id": w.local_id,
                "crm_object": self.crm_object,
                "written": {},
                "pending_create_at": now,
                "created_at": now,
            }
            for w in writes
            if w.crm_id is None
            and (w.local_id not in links or links[w.local_id]["pending_create_at"] is None)
        ]
        upsert_rows(session, Link, rows, _LINK_KEY, ("pending_create_at",))

    def _touch_unchanged_links(
        self,
        session: Session,
        batch: list[Claimed],
        links: dict[str, Any],
        rows: list[dict[str, Any]],
    ) -> None:
        touched = [
            {"id": links[item.local_id]["id"], "last_status": OpStatus.UNCHANGED}
            for item, row in zip(batch, rows, strict=True)
            if row["status"] == OpStatus.UNCHANGED and item.local_id in links
        ]
        if touched:
            update_by_id(session, Link, touched)


def _settle_moves(
    session: Session, links: list[dict[str, Any]], moves: list[Move]
) -> tuple[list[dict[str, Any]], list[Move]]:
    """Moves whose record another link already holds (two leads converted into one contact)
    keep their link on the old id: a link is unique on the CRM side too. The rows are new
    lists: the transaction may run again."""
    taken: set[str] = set()
    kept: list[Move] = []
    diverted: dict[str, Move] = {}
    for move in moves:
        if move.crm_id in taken or holder(session, move) is not None:
            diverted[move.key.local_id] = move
        else:
            taken.add(move.crm_id)
            kept.append(move)
    if not diverted:
        return links, kept
    rows = []
    for row in links:
        away = diverted.get(row["local_id"])
        if away is not None:
            row = {**row, "crm_id": away.moved.from_id, "crm_object": away.moved.from_object}
        rows.append(row)
    return rows, kept
