"""One batch's bookkeeping: plan each person, then record what the CRM said, durably."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crmsync.connectors.base import RecordWrite, WriteOutcome
from crmsync.db.tables import (
    Connection,
    FieldMapping,
    Link,
    ObjectMapping,
    Operation,
    OpStatus,
    Person,
    Unlock,
    User,
    WorkItem,
    utcnow,
)
from crmsync.engine import outbox
from crmsync.engine.planner import (
    MappedField,
    after_write,
    desired_fields,
    fingerprint,
    person_values,
    plan_write,
)
from crmsync.engine.runtime import Runtime
from crmsync.errors import Action, Resolution
from crmsync.redact import redact


@dataclass
class InFlight:
    item_id: int
    operation_id: int
    attempts: int
    sent: dict[str, Any]


_FINAL = {Action.FAIL: OpStatus.FAILED, Action.SKIP: OpStatus.SKIPPED}


class BatchRecorder:
    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.connection_id = conn.id
        self.org_id = conn.org_id
        self.owners: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.inflight: dict[str, InFlight] = {}
        with rt.db.session() as session:
            self.mappings = load_mappings(session, conn.id)

    def plan(self, batch: list[WorkItem]) -> list[RecordWrite]:
        """Plan every claimed item; unchanged people are logged and finished right here."""
        ids = [item.person_id for item in batch]
        writes: list[RecordWrite] = []
        now = utcnow()
        with self.rt.db.session() as session:
            conn = session.get_one(Connection, self.connection_id)
            people = {
                p.person_id: p
                for p in session.scalars(select(Person).where(Person.person_id.in_(ids)))
            }
            links = {
                link.person_id: link
                for link in session.scalars(
                    select(Link).where(
                        Link.connection_id == self.connection_id, Link.person_id.in_(ids)
                    )
                )
            }
            owner_emails = self._owner_emails(session, ids)
            ops = self._operations(session, batch)
            done: list[int] = []
            for item in batch:
                op = ops[item.id]
                person = people.get(item.person_id)
                if person is None:
                    self._settle(op, OpStatus.FAILED, "the person no longer exists in crmsync")
                    done.append(item.id)
                    continue
                values = person_values(person, self.rt.settings.profile_url_template)
                owner_id = self.owners.get((owner_emails.get(item.person_id) or "").lower())
                desired = desired_fields(values, self.mappings, owner_id)
                link = links.get(item.person_id)
                written = link.written if link is not None and link.crm_id else None
                plan = plan_write(desired, self.mappings, written, conn.preserve_manual_edits)
                if plan.unchanged:
                    self._settle(op, OpStatus.UNCHANGED, plan.reason, link.crm_id if link else None)
                    if link is not None:
                        link.last_status = OpStatus.UNCHANGED
                    done.append(item.id)
                    continue
                if link is None:
                    link = Link(
                        connection_id=self.connection_id,
                        person_id=item.person_id,
                        crm_object=self.rt.spec(conn.provider).crm_object,
                        written={},
                        crm_ids={},
                    )
                    session.add(link)
                resumed = link.pending_create_at is not None
                if plan.first_write and link.crm_id is None:
                    link.pending_create_at = link.pending_create_at or now
                op.attempts += 1
                op.status = OpStatus.PENDING
                op.request_summary = {"first_write": plan.first_write, "fields": redact(plan.send)}
                op.updated_at = now
                writes.append(
                    RecordWrite(
                        person_id=item.person_id,
                        fields=plan.send,
                        crm_id=link.crm_id,
                        first_write=plan.first_write,
                        create_may_have_landed=resumed,
                    )
                )
                self.inflight[item.person_id] = InFlight(item.id, op.id, item.attempts, plan.send)
            outbox.finish(session, done)
        return writes

    def record(self, outcomes: list[WriteOutcome]) -> None:
        now = utcnow()
        with self.rt.db.session() as session:
            links = self._links(session, [o.person_id for o in outcomes])
            finished: list[int] = []
            for outcome in outcomes:
                flight = self.inflight.pop(outcome.person_id)
                op = session.get_one(Operation, flight.operation_id)
                link = links[outcome.person_id]
                op.response_summary = redact(outcome.response_summary)
                resolution = outcome.resolution
                if resolution is None:
                    link.crm_id = outcome.crm_id or link.crm_id
                    link.written = after_write(link.written, flight.sent)
                    link.fingerprint = fingerprint(link.written)
                    link.pending_create_at = None
                    link.last_synced_at = now
                    status = OpStatus.INSERTED if outcome.created else OpStatus.UPDATED
                    self._settle(op, status, "", link.crm_id)
                    link.last_status = status
                    finished.append(flight.item_id)
                elif resolution.action in _FINAL:
                    self._settle(op, _FINAL[resolution.action], resolution.reason, link.crm_id)
                    op.code = resolution.code
                    link.last_status = op.status
                    finished.append(flight.item_id)
                else:
                    self._retry(session, flight, op, resolution)
            outbox.finish(session, finished)

    def retry_later(self, resolution: Resolution) -> None:
        """The whole batch hit a transient problem: every in-flight item waits and retries."""
        with self.rt.db.session() as session:
            for person_id in list(self.inflight):
                flight = self.inflight.pop(person_id)
                op = session.get_one(Operation, flight.operation_id)
                self._retry(session, flight, op, resolution)

    def pause(self, reason: str) -> None:
        """Authorisation lost: keep every in-flight item queued until the reconnect."""
        with self.rt.db.session() as session:
            ids = []
            for person_id in list(self.inflight):
                flight = self.inflight.pop(person_id)
                op = session.get_one(Operation, flight.operation_id)
                op.status = OpStatus.WAITING_RECONNECT
                op.reason = reason
                op.attempts = max(0, op.attempts - 1)
                ids.append(flight.item_id)
            outbox.release(session, ids, utcnow(), count_attempt=False)

    def abandon(self) -> None:
        """Anything still in flight after an unexpected error goes back, no attempt counted."""
        if not self.inflight:
            return
        with self.rt.db.session() as session:
            ids = [flight.item_id for flight in self.inflight.values()]
            self.inflight.clear()
            outbox.release(session, ids, utcnow(), count_attempt=False)

    def _retry(
        self, session: Session, flight: InFlight, op: Operation, resolution: Resolution
    ) -> None:
        from crmsync.engine.runner import backoff

        settings = self.rt.settings
        counts = resolution.action is not Action.RATE_LIMITED
        if counts and flight.attempts + 1 >= settings.max_attempts:
            reason = f"gave up after {flight.attempts + 1} attempts: {resolution.reason}"
            self._settle(op, OpStatus.FAILED, reason)
            outbox.finish(session, [flight.item_id])
            return
        delay = backoff(
            flight.attempts, settings.retry_base_seconds, settings.retry_max_seconds, resolution
        )
        op.status = OpStatus.RETRYING
        op.reason = f"{resolution.reason} (retrying in {delay:.0f}s)"
        op.updated_at = utcnow()
        self.counts[OpStatus.RETRYING] += 1
        outbox.release(
            session, [flight.item_id], utcnow() + timedelta(seconds=delay), count_attempt=counts
        )

    def _settle(
        self, op: Operation, status: OpStatus, reason: str, crm_id: str | None = None
    ) -> None:
        op.status = status
        op.reason = reason
        op.crm_id = crm_id
        op.updated_at = utcnow()
        self.counts[status] += 1

    def _operations(self, session: Session, batch: list[WorkItem]) -> dict[int, Operation]:
        """The item's existing log row (a retry) or a new one."""
        ops: dict[int, Operation] = {}
        for item in batch:
            op = session.get(Operation, item.operation_id) if item.operation_id else None
            if op is None or op.status not in (
                OpStatus.PENDING,
                OpStatus.RETRYING,
                OpStatus.WAITING_RECONNECT,
            ):
                retry_of = op.id if op is not None else None
                op = Operation(
                    org_id=self.org_id,
                    connection_id=self.connection_id,
                    person_id=item.person_id,
                    lane=item.lane,
                    retry_of=retry_of,
                )
                session.add(op)
            ops[item.id] = op
        session.flush()
        for item in batch:
            item_row = session.get_one(WorkItem, item.id)
            item_row.operation_id = ops[item.id].id
        return ops

    def _owner_emails(self, session: Session, person_ids: list[str]) -> dict[str, str]:
        """The email of each person's first unlocker in this org: the record's owner."""
        first = (
            select(Unlock.person_id, func.min(Unlock.id).label("first_id"))
            .where(Unlock.org_id == self.org_id, Unlock.person_id.in_(person_ids))
            .group_by(Unlock.person_id)
            .subquery()
        )
        rows = session.execute(
            select(first.c.person_id, User.email)
            .join(Unlock, Unlock.id == first.c.first_id)
            .join(User, User.id == Unlock.user_id)
        )
        return {pid: email for pid, email in rows}

    def _links(self, session: Session, person_ids: list[str]) -> dict[str, Link]:
        return {
            link.person_id: link
            for link in session.scalars(
                select(Link).where(
                    Link.connection_id == self.connection_id, Link.person_id.in_(person_ids)
                )
            )
        }


def load_mappings(session: Session, connection_id: str) -> list[MappedField]:
    rows = session.execute(
        select(FieldMapping)
        .join(ObjectMapping, ObjectMapping.id == FieldMapping.object_mapping_id)
        .where(ObjectMapping.connection_id == connection_id, FieldMapping.crm_field.is_not(None))
    ).scalars()
    return [
        MappedField(r.app_field, r.crm_field or "", r.direction, r.source_of_truth) for r in rows
    ]
