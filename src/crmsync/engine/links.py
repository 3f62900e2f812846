"""Links found by their CRM side, and links whose CRM record moved (a converted lead's
contact, a merge's survivor): the old id stays an alias, so it still finds the link.

Moves are rare, so these run a statement or two per record; the hot path never calls them
for a record that did not move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crmsync.db.setwrites import dialect_insert, table_of
from crmsync.db.tables import Link, LinkAlias, utcnow
from crmsync.domain.keys import RecordKey
from crmsync.domain.writes import Moved


def link_for_crm_id(
    session: Session, connection_id: str, crm_object: str, crm_id: str
) -> RecordKey | None:
    """The record linked to this CRM record on the connection, by its id or an alias."""
    direct = select(Link.connection_id, Link.object_type, Link.local_id).where(
        Link.connection_id == connection_id, Link.crm_object == crm_object, Link.crm_id == crm_id
    )
    row = session.execute(direct).first()
    if row is None:
        aliased = (
            select(Link.connection_id, Link.object_type, Link.local_id)
            .join(LinkAlias, LinkAlias.link_id == Link.id)
            .where(
                LinkAlias.connection_id == connection_id,
                LinkAlias.crm_object == crm_object,
                LinkAlias.crm_id == crm_id,
            )
        )
        row = session.execute(aliased).first()
    return None if row is None else RecordKey(*row)


@dataclass(frozen=True, slots=True)
class Move:
    """A record whose write landed in another CRM record than its link held."""

    key: RecordKey
    crm_id: str
    moved: Moved


def holder(session: Session, move: Move) -> RecordKey | None:
    """Who else already holds the record moved to, as it is named now or was before
    (links written before moves were recorded kept the object they were created as)."""
    for crm_object in dict.fromkeys((move.moved.crm_object, move.moved.from_object)):
        key = link_for_crm_id(session, move.key.connection_id, crm_object, move.crm_id)
        if key is not None and key != move.key:
            return key
    return None


def record_moves(session: Session, moves: Sequence[Move]) -> None:
    """Each moved link names its record's object now, and answers to the old id as an alias
    (once: an alias already recorded is kept). The links exist (just upserted)."""
    links, aliases = table_of(Link), table_of(LinkAlias)
    now = utcnow()
    for move in moves:
        key, moved = move.key, move.moved
        link_id = session.scalar(
            select(links.c.id).where(
                links.c.connection_id == key.connection_id,
                links.c.object_type == key.object_type,
                links.c.local_id == key.local_id,
            )
        )
        if link_id is None:
            continue
        session.execute(
            update(links).where(links.c.id == link_id).values(crm_object=moved.crm_object)
        )
        insert = dialect_insert(session.get_bind().dialect.name, aliases).values(
            connection_id=key.connection_id,
            crm_object=moved.from_object,
            crm_id=moved.from_id,
            link_id=link_id,
            reason=moved.reason,
            created_at=now,
        )
        session.execute(
            insert.on_conflict_do_nothing(index_elements=["connection_id", "crm_object", "crm_id"])
        )
