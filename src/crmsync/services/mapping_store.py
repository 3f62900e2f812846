"""A connection's object and field mappings as stored (``object_mappings``,
``field_mappings``): read for the mappings' view, replaced as a whole when saved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import FieldMapping, Flow, ObjectMapping
from crmsync.domain.keys import CONTACT
from crmsync.domain.mapping import FieldMap
from crmsync.errors import NotFound


def object_mappings(session: Session, connection_id: str) -> list[ObjectMapping]:
    """The object mappings of the flow written into the connection, oldest first."""
    return list(
        session.scalars(
            select(ObjectMapping)
            .join(Flow, Flow.id == ObjectMapping.flow_id)
            .where(Flow.target == connection_id)
            .order_by(ObjectMapping.id)
        )
    )


def contact_object(session: Session, connection_id: str) -> ObjectMapping:
    for obj in object_mappings(session, connection_id):
        if obj.local_object == CONTACT:
            return obj
    raise NotFound("the connection maps no contacts")


def field_rows(session: Session, object_mapping_id: int) -> list[FieldMapping]:
    """The mapped fields (a default the CRM has no place for is kept unmapped, as a note)."""
    return list(
        session.scalars(
            select(FieldMapping)
            .where(
                FieldMapping.object_mapping_id == object_mapping_id,
                FieldMapping.crm_field.is_not(None),
            )
            .order_by(FieldMapping.id)
        )
    )


def replace_fields(
    session: Session,
    object_mapping_id: int,
    fields: Sequence[FieldMap],
    provided_as: Mapping[str, str],
) -> None:
    """The object mapping's mapped fields become ``fields``: a kept app field keeps its row
    (and its note while its CRM field stays), a new one is added, a dropped one removed;
    the notes of unmapped defaults stay.
    ``provided_as``: how the CRM has each new CRM field (standard, custom, given)."""
    rows = {
        row.app_field: row
        for row in session.scalars(
            select(FieldMapping).where(FieldMapping.object_mapping_id == object_mapping_id)
        )
    }
    wanted = {f.local_field: f for f in fields}
    for app_field, row in rows.items():
        if app_field not in wanted and row.crm_field is not None:
            session.delete(row)
    session.flush()
    for f in fields:
        found = rows.get(f.local_field)
        if found is None:
            row = FieldMapping(object_mapping_id=object_mapping_id, app_field=f.local_field)
            session.add(row)
        else:
            row = found
        if row.crm_field != f.crm_field:
            row.provided_as = provided_as.get(f.crm_field, "given")
            row.note = ""
        row.crm_field = f.crm_field
        row.value_kind = f.kind
        row.source_of_truth = f.source_of_truth
        row.identity = f.identity
    session.flush()
