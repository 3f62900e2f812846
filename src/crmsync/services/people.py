"""People: the host's records. A change fans out to every org that unlocked the person."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, distinct, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crmsync.db.tables import Link, Person, Unlock, utcnow
from crmsync.domain.commands import PersonRecord
from crmsync.domain.enums import Lane
from crmsync.domain.keys import CONTACT
from crmsync.engine import outbox
from crmsync.errors import InputError

_FIELDS = tuple(f.name for f in dataclasses.fields(PersonRecord))
"""The stored fields, each a column of ``people``: every field of a record is content."""
_CHUNK = 500  # ids per IN (...) list, well inside every database's parameter limit
_T = TypeVar("_T")


def content_hash(data: PersonRecord) -> str:
    """The digest stored with a person: the same values give the same digest as every earlier
    release stored (sorted keys, ASCII-escaped JSON), so an unchanged PUT queues nothing."""
    return _digest(_content(data))


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _content(data: PersonRecord) -> dict[str, Any]:
    """The record as its columns store it: lists where the record holds tuples."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(data).items()}


@dataclass
class Upserted:
    """What one upsert did: counts, and the connections that now have refresh work."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0
    queued: int = 0
    touched: list[str] = field(default_factory=list)


def _chunks(items: Sequence[_T], size: int = _CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert_person(session: Session, person_id: str, data: PersonRecord) -> tuple[Person, list[str]]:
    """Create or refresh a person; returns it and the connections that now have work."""
    done = upsert_people(session, [(person_id, data)])
    person = session.get_one(Person, person_id, populate_existing=True)
    return person, done.touched


def upsert_people(session: Session, items: Sequence[tuple[str, PersonRecord]]) -> Upserted:
    """Create or refresh people in the caller's transaction, set-based.

    The same rules as one at a time: a person sent with the values already stored (same
    content hash) queues nothing; a new person queues nothing (no org has unlocked them yet);
    a changed person is queued in the refresh lane on every active connection of every org
    that unlocked them. A person id given twice is refused before anything is written.
    """
    first: dict[str, int] = {}
    for index, (person_id, _data) in enumerate(items):
        if person_id in first:
            raise InputError(
                f"person {person_id!r} is given twice (items {first[person_id]} and {index}); "
                "send each person once per request"
            )
        first[person_id] = index
    wanted = {person_id: _row(data) for person_id, data in items}
    ids = sorted(wanted)  # one lock order for every writer: concurrent batches cannot deadlock
    stored = _stored_hashes(session, ids)
    done = Upserted()
    new = [pid for pid in ids if pid not in stored]
    if new:
        inserted = _insert_new(session, [{"person_id": pid, **wanted[pid]} for pid in new])
        done.created = len(inserted)
        # Created by a concurrent request since we looked: an update like any other.
        stored.update(_stored_hashes(session, [pid for pid in new if pid not in inserted]))
    changed = [pid for pid in ids if pid in stored and stored[pid] != wanted[pid]["content_hash"]]
    done.unchanged = len(stored) - len(changed)
    done.changed = len(changed)
    if not changed:
        return done
    people = Person.__table__
    assert isinstance(people, Table)
    session.execute(  # Core executemany: one UPDATE per row, no ORM unit of work
        update(people)
        .where(people.c.person_id == bindparam("pid"))
        .values({name: bindparam(f"new_{name}") for name in [*_FIELDS, "content_hash"]})
        .values(updated_at=utcnow()),
        [{"pid": pid, **{f"new_{k}": v for k, v in wanted[pid].items()}} for pid in changed],
    )
    done.queued, done.touched = _fan_out(session, changed)
    return done


def _row(data: PersonRecord) -> dict[str, Any]:
    """The person's columns: their values and the digest of those values."""
    content = _content(data)
    return {**content, "content_hash": _digest(content)}


def _stored_hashes(session: Session, ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(ids):
        query = select(Person.person_id, Person.content_hash).where(Person.person_id.in_(chunk))
        found.update({pid: digest for pid, digest in session.execute(query)})
    return found


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert people; one a concurrent request inserted first is skipped. Returns the ids
    this call inserted."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    inserted: set[str] = set()
    for chunk in _chunks(rows):
        stmt = (
            insert(Person)
            .values([{**row, "updated_at": now} for row in chunk])
            .on_conflict_do_nothing(index_elements=["person_id"])
            .returning(Person.person_id)
        )
        inserted.update(session.scalars(stmt))
    return inserted


def _fan_out(session: Session, person_ids: Sequence[str]) -> tuple[int, list[str]]:
    """Queue the changed people as refreshes on every active connection of the orgs that
    unlocked them; returns (items queued, connections touched)."""
    by_org: dict[str, list[str]] = {}
    for chunk in _chunks(person_ids):
        query = (
            select(Unlock.org_id, Unlock.person_id).where(Unlock.person_id.in_(chunk)).distinct()
        )
        for org_id, person_id in session.execute(query):
            by_org.setdefault(org_id, []).append(person_id)
    if not by_org:
        return 0, []
    queued: Counter[str] = Counter()
    connections = outbox.active_connections(session, sorted(by_org))
    for conn in sorted(connections, key=lambda c: c.id):
        people = sorted(set(by_org[conn.org_id]))
        if not conn.push_on_unlock:  # only what a trigger pushed before is kept up to date
            people = _linked(session, conn.id, people)
        if not people:
            continue
        outbox.enqueue(session, conn.id, CONTACT, people, Lane.REFRESH)
        queued[conn.id] = len(people)
    return sum(queued.values()), list(queued)


def _linked(session: Session, connection_id: str, person_ids: list[str]) -> list[str]:
    linked: set[str] = set()
    for chunk in _chunks(person_ids):
        linked.update(
            session.scalars(
                select(Link.local_id).where(
                    Link.connection_id == connection_id,
                    Link.object_type == CONTACT,
                    Link.local_id.in_(chunk),
                )
            )
        )
    return sorted(linked)


def unlocked_people(session: Session, org_id: str) -> int:
    """How many people the org's users have unlocked (the card's total)."""
    count = session.scalar(
        select(func.count(distinct(Unlock.person_id))).where(Unlock.org_id == org_id)
    )
    return int(count or 0)
