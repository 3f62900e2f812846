"""What a batch reads besides its links: its people, the connection's mapped fields and who
unlocked each person first (the record's owner)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Table, func, select
from sqlalchemy.orm import Session

from crmsync.db.tables import FieldMapping, ObjectMapping, Person, Unlock, User
from crmsync.engine.planner import MappedField


def people_rows(session: Session, person_ids: list[str]) -> dict[str, Row[Any]]:
    """The people's rows as plain tuples (read-only: no ORM identity to build and track)."""
    people = Person.__table__
    assert isinstance(people, Table)
    rows = session.execute(select(people).where(people.c.person_id.in_(person_ids)))
    return {row.person_id: row for row in rows}


def first_unlockers(session: Session, org_id: str, person_ids: list[str]) -> dict[str, str]:
    """The email of each person's first unlocker in this org: the record's owner."""
    first = (
        select(Unlock.person_id, func.min(Unlock.id).label("first_id"))
        .where(Unlock.org_id == org_id, Unlock.person_id.in_(person_ids))
        .group_by(Unlock.person_id)
        .subquery()
    )
    rows = session.execute(
        select(first.c.person_id, User.email)
        .join(Unlock, Unlock.id == first.c.first_id)
        .join(User, User.id == Unlock.user_id)
    )
    return {pid: email for pid, email in rows}


def load_mappings(session: Session, connection_id: str) -> list[MappedField]:
    rows = session.execute(
        select(FieldMapping)
        .join(ObjectMapping, ObjectMapping.id == FieldMapping.object_mapping_id)
        .where(ObjectMapping.connection_id == connection_id, FieldMapping.crm_field.is_not(None))
    ).scalars()
    return [
        MappedField(r.app_field, r.crm_field or "", r.direction, r.source_of_truth) for r in rows
    ]
