"""People: the host's records. A change fans out to every org that unlocked the person."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.api.schemas import PersonIn
from crmsync.db.tables import Lane, Person, Unlock, utcnow
from crmsync.engine import outbox


def content_hash(data: PersonIn) -> str:
    raw = json.dumps(data.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(raw.encode()).hexdigest()


def upsert_person(session: Session, person_id: str, data: PersonIn) -> tuple[Person, list[str]]:
    """Create or refresh a person; returns it and the connections that now have work."""
    digest = content_hash(data)
    person = session.get(Person, person_id)
    if person is not None and person.content_hash == digest:
        return person, []
    fields = data.model_dump()
    if person is None:
        person = Person(person_id=person_id, content_hash=digest, **fields)
        session.add(person)
        session.flush()
        return person, []
    for key, value in fields.items():
        setattr(person, key, value)
    person.content_hash = digest
    person.updated_at = utcnow()
    org_ids = list(
        session.scalars(select(Unlock.org_id).where(Unlock.person_id == person_id).distinct())
    )
    touched = []
    for conn in outbox.active_connections(session, org_ids):
        outbox.enqueue(session, conn.id, [person_id], Lane.REFRESH)
        touched.append(conn.id)
    return person, touched
