"""The host's conversations: recorded per org, exported to the org's CRM when its connection
has conversations enabled (the engine's ``engine.conversations``), contact first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, Conversation, Link, Person, naive_utc, utcnow
from crmsync.domain.commands import RecordConversation
from crmsync.domain.enums import Lane
from crmsync.domain.keys import CONTACT, CONVERSATION
from crmsync.domain.records import Capability
from crmsync.engine import outbox
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict, InputError, NotFound
from crmsync.services.connections import active_connection, require_connection
from crmsync.services.orgs import get_org


def set_enabled(rt: Runtime, session: Session, org_id: str, enabled: bool) -> Connection:
    """Switch the export of conversations on the org's connection; a CRM whose connector
    does not export them cannot have it on."""
    conn = require_connection(session, org_id)
    connector = rt.provider(conn.provider).connector
    if enabled and Capability.CONVERSATIONS not in connector.capabilities:
        raise Conflict(f"{connector.spec.display_name} does not support exporting conversations")
    conn.conversations_enabled = enabled
    return conn


@dataclass(frozen=True)
class Recorded:
    created: int
    updated: int
    unchanged: int
    contacts_queued: int
    connection_id: str


def record(session: Session, org_id: str, items: Sequence[RecordConversation]) -> Recorded:
    """Record conversations (new ids created, known ones updated in place) and queue the
    changed ones, and the contacts not yet in the CRM, on the org's connection. Refuses the
    whole request, writing nothing, if any item cannot be taken."""
    get_org(session, org_id)
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InputError("a conversation id is given twice in one request")
    conn = active_connection(session, org_id)
    if conn is None:
        raise Conflict(f"organisation {org_id!r} has no CRM connection to export conversations to")
    if not conn.conversations_enabled:
        raise Conflict(
            f"conversations are disabled on organisation {org_id!r}'s connection; enable them "
            'with PATCH /api/v1/orgs/{org}/connection {"conversations_enabled": true}'
        )
    people = {item.person_id for item in items}
    known = set(session.scalars(select(Person.person_id).where(Person.person_id.in_(people))))
    missing = sorted(people - known)
    if missing:
        raise NotFound(f"unknown person {missing[0]!r}")
    existing = {
        row.id: row
        for row in session.scalars(
            select(Conversation).where(Conversation.org_id == org_id, Conversation.id.in_(ids))
        )
    }
    for item in items:
        row = existing.get(item.id)
        if row is not None and row.person_id != item.person_id:
            raise Conflict(
                f"conversation {item.id!r} is about person {row.person_id!r}; "
                "it cannot move to another person"
            )
    created = updated = unchanged = 0
    changed: list[str] = []
    now = utcnow()
    for item in items:
        row = existing.get(item.id)
        if row is None:
            session.add(_new(org_id, item))
            created += 1
        elif _same(row, item):
            unchanged += 1
            continue
        else:
            _apply(row, item)
            row.updated_at = now
            updated += 1
        changed.append(item.id)
    queued = _contacts_to_push(session, conn.id, sorted({i.person_id for i in items}))
    outbox.enqueue(session, conn.id, CONTACT, queued, Lane.LIVE)
    outbox.enqueue(session, conn.id, CONVERSATION, changed, Lane.LIVE)
    return Recorded(created, updated, unchanged, len(queued), conn.id)


def _contacts_to_push(session: Session, connection_id: str, person_ids: list[str]) -> list[str]:
    """The people with no CRM record on the connection yet: pushed before their
    conversations."""
    linked = set(
        session.scalars(
            select(Link.local_id).where(
                Link.connection_id == connection_id,
                Link.object_type == CONTACT,
                Link.local_id.in_(person_ids),
                Link.crm_id.is_not(None),
            )
        )
    )
    return [p for p in person_ids if p not in linked]


def _new(org_id: str, item: RecordConversation) -> Conversation:
    row = Conversation(org_id=org_id, id=item.id, person_id=item.person_id)
    _apply(row, item)
    return row


def _apply(row: Conversation, item: RecordConversation) -> None:
    row.channel = item.channel
    row.direction = item.direction
    row.subject = item.subject
    row.body = item.body
    row.occurred_at = item.occurred_at


def _same(row: Conversation, item: RecordConversation) -> bool:
    return (
        row.channel == item.channel
        and row.direction == item.direction
        and row.subject == item.subject
        and row.body == item.body
        and naive_utc(row.occurred_at) == naive_utc(item.occurred_at)
    )
