"""Exports one connection's conversations: each a CRM record of its own object type, linked to
its contact's CRM record, through the same outbox, links and operation log as the contacts.

The runner calls this after the contact pump, so a contact queued with its conversation (not
yet in the CRM) lands first, in the same run. A conversation whose contact still has no CRM
record waits, an attempt counted, and fails once ``max_attempts`` is reached. A conversation
already written is updated in its own CRM record (the link's ``crm_id``), never made twice;
one that has not changed since it was written is not sent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.connectors.base import Connector
from crmsync.connectors.http import call_guarded
from crmsync.db.setwrites import upsert_rows
from crmsync.db.tables import Connection, Conversation, Link, Operation, utcnow
from crmsync.domain.enums import Lane, OpStatus
from crmsync.domain.keys import CONTACT, CONVERSATION
from crmsync.domain.outcomes import Action, Resolution
from crmsync.domain.records import Capability
from crmsync.domain.writes import ConversationWrite, WriteOutcome
from crmsync.engine import outbox
from crmsync.engine.outbox import Claimed
from crmsync.engine.reads import links_of
from crmsync.engine.retry import consequence, delay, gives_up
from crmsync.engine.runtime import Runtime
from crmsync.errors import ConnectorError
from crmsync.redact import redact

BATCH = 50
"""Conversations claimed per turn (each CRM takes them one request each, or in batches)."""
_LINK_KEY = ("connection_id", "object_type", "local_id")
_LINK_OUTCOME = ("crm_id", "crm_object", "written", "last_synced_at", "last_status")
NO_CONTACT = Resolution(Action.RETRY, "its contact is not in the CRM yet")


@dataclass
class Flight:
    item: Claimed
    write: ConversationWrite
    desired: dict[str, Any]


@dataclass
class Turn:
    """One claimed batch: what to send, and what was settled without sending."""

    claimed: int = 0
    flights: list[Flight] = field(default_factory=list)


class ConversationExport:
    def __init__(self, rt: Runtime, conn: Connection, connector: Connector) -> None:
        self.rt = rt
        self.connection_id = conn.id
        self.org_id = conn.org_id
        self.connector = connector
        self.crm_object = connector.conversation_object
        self.declared = Capability.CONVERSATIONS in connector.capabilities
        self.counts: Counter[str] = Counter()

    async def run(self, give_way: Callable[[], Awaitable[bool]]) -> Counter[str]:
        """Export due conversations until none is due or ``give_way`` says stop."""
        while not await give_way():
            turn = await asyncio.to_thread(self._claim_and_plan)
            if not turn.claimed:
                break
            if not turn.flights:
                continue
            writes = [f.write for f in turn.flights]
            try:
                outcomes: list[WriteOutcome] = await call_guarded(
                    partial(self.connector.push_conversations, writes),
                    self.connector.spec.error_rules,
                )
            except ConnectorError as exc:
                await asyncio.to_thread(self._call_failed, turn.flights, exc.resolution)
                if consequence(exc.resolution).pause is not None:
                    raise
                break
            await asyncio.to_thread(self._record, turn.flights, outcomes)
        return self.counts

    # -- planning -----------------------------------------------------------------------
    def _claim_and_plan(self) -> Turn:
        def work(session: Session) -> Turn:
            lease = timedelta(seconds=self.rt.settings.batch_lease_seconds)
            batch = outbox.claim(
                session, self.connection_id, BATCH, lease, object_type=CONVERSATION
            )
            turn = Turn(claimed=len(batch))
            if batch:
                self._plan(session, batch, turn)
            return turn

        return self.rt.db.transaction(work)

    def _plan(self, session: Session, batch: list[Claimed], turn: Turn) -> None:
        now = utcnow()
        conn = session.get_one(Connection, self.connection_id)
        ids = [item.local_id for item in batch]
        rows = {
            row.id: row
            for row in session.scalars(
                select(Conversation).where(
                    Conversation.org_id == self.org_id, Conversation.id.in_(ids)
                )
            )
        }
        contacts = links_of(
            session, self.connection_id, CONTACT, sorted({r.person_id for r in rows.values()})
        )
        links = links_of(session, self.connection_id, CONVERSATION, ids)
        done: list[int] = []
        for item in batch:
            row = rows.get(item.local_id)
            if not (conn.conversations_enabled and self.declared):
                self._log(session, item, OpStatus.SKIPPED, "conversations are disabled", now)
                done.append(item.id)
                continue
            if row is None:
                self._log(session, item, OpStatus.FAILED, "the conversation is gone", now)
                done.append(item.id)
                continue
            contact = contacts.get(row.person_id)
            if contact is None or not contact["crm_id"]:
                if contact is None:  # never tried (a failed push is not tried again here)
                    outbox.enqueue(session, self.connection_id, CONTACT, [row.person_id], Lane.LIVE)
                self._retry(session, item, None, NO_CONTACT, now)
                continue
            link = links.get(item.local_id)
            desired = _desired(row, contact["crm_id"])
            crm_id = link["crm_id"] if link is not None else None
            if link is not None and crm_id and dict(link["written"]) == desired:
                self.counts[OpStatus.UNCHANGED] += 1
                self._log(session, item, OpStatus.UNCHANGED, "nothing changed", now, crm_id)
                done.append(item.id)
                continue
            write = ConversationWrite(
                local_id=row.id,
                contact_crm_id=contact["crm_id"],
                contact_object=contact["crm_object"],
                channel=row.channel,
                direction=row.direction,
                subject=row.subject,
                body=row.body,
                occurred_at=desired["occurred_at"],
                crm_id=crm_id or None,
            )
            turn.flights.append(Flight(item, write, desired))
        outbox.finish(session, done)

    # -- recording ----------------------------------------------------------------------
    def _record(self, flights: list[Flight], outcomes: list[WriteOutcome]) -> None:
        def work(session: Session) -> None:
            now = utcnow()
            links: list[dict[str, Any]] = []
            done: list[int] = []
            for flight, outcome in zip(flights, outcomes, strict=True):
                item = flight.item
                summary = redact(outcome.response_summary)
                if outcome.resolution is None:
                    status = OpStatus.INSERTED if outcome.created else OpStatus.UPDATED
                    crm_id = outcome.crm_id or flight.write.crm_id
                    self.counts[status] += 1
                    self._log(session, item, status, "", now, crm_id, summary, flight.desired)
                    links.append(self._link(item.local_id, crm_id, flight.desired, status, now))
                    done.append(item.id)
                elif (final := consequence(outcome.resolution).final) is not None:
                    self.counts[final] += 1
                    reason = outcome.resolution.reason
                    self._log(session, item, final, reason, now, flight.write.crm_id, summary)
                    done.append(item.id)
                else:
                    self._retry(session, item, flight.write.crm_id, outcome.resolution, now)
            upsert_rows(session, Link, links, _LINK_KEY, _LINK_OUTCOME)
            outbox.finish(session, done)

        self.rt.db.transaction(work)

    def _call_failed(self, flights: list[Flight], resolution: Resolution) -> None:
        """The whole call failed: every conversation in it waits (or gives up), as the
        outcome table says; a pause keeps them queued, no attempt counted."""

        def work(session: Session) -> None:
            now = utcnow()
            for flight in flights:
                if consequence(resolution).pause is not None:
                    outbox.release(session, [flight.item.id], now, count_attempt=False)
                else:
                    self._retry(session, flight.item, flight.write.crm_id, resolution, now)

        self.rt.db.transaction(work)

    def _retry(
        self,
        session: Session,
        item: Claimed,
        crm_id: str | None,
        resolution: Resolution,
        now: Any,
    ) -> None:
        settings = self.rt.settings
        if gives_up(resolution, item.attempts, settings.max_attempts):
            reason = f"gave up after {item.attempts + 1} attempts: {resolution.reason}"
            self.counts[OpStatus.FAILED] += 1
            self._log(session, item, OpStatus.FAILED, reason, now, crm_id)
            outbox.finish(session, [item.id])
            return
        wait = delay(
            item.attempts, settings.retry_base_seconds, settings.retry_max_seconds, resolution
        )
        self.counts[OpStatus.RETRYING] += 1
        counts = consequence(resolution).counts_attempt
        outbox.release(session, [item.id], now + timedelta(seconds=wait), count_attempt=counts)

    def _log(
        self,
        session: Session,
        item: Claimed,
        status: OpStatus,
        reason: str,
        now: Any,
        crm_id: str | None = None,
        response: dict[str, Any] | None = None,
        sent: dict[str, Any] | None = None,
    ) -> None:
        """One settled attempt in the integration log (the body is not kept there)."""
        request = {k: v for k, v in (sent or {}).items() if k != "body"}
        session.add(
            Operation(
                org_id=self.org_id,
                connection_id=self.connection_id,
                object_type=CONVERSATION,
                local_id=item.local_id,
                lane=item.lane,
                status=status,
                reason=reason,
                crm_id=crm_id,
                request_summary=request,
                response_summary=response or {},
                attempts=item.attempts + 1,
                created_at=now,
                updated_at=now,
            )
        )

    def _link(
        self, local_id: str, crm_id: str | None, written: dict[str, Any], status: str, now: Any
    ) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "object_type": CONVERSATION,
            "local_id": local_id,
            "crm_object": self.crm_object,
            "crm_id": crm_id,
            "written": written,
            "last_synced_at": now,
            "last_status": status,
            "created_at": now,
        }


def _desired(row: Conversation, contact_crm_id: str) -> dict[str, Any]:
    """What the conversation's CRM record should say (compared with what was written)."""
    moment = row.occurred_at
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "contact": contact_crm_id,
        "channel": row.channel,
        "direction": row.direction,
        "subject": row.subject,
        "body": row.body,
        "occurred_at": stamp,
    }
