"""The services speak of people; the sync tables key records: a person is a contact record
whose local id is the Person ID."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from crmsync.db.tables import Link, Operation, WorkItem
from crmsync.domain.keys import CONTACT


def contact_record(
    model: type[Link] | type[WorkItem] | type[Operation], person_id: str
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions selecting one person's rows of a sync table (beside its connection's)."""
    return model.object_type == CONTACT, model.local_id == person_id
