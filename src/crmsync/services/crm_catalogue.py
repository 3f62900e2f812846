"""The CRM's field catalogue for a connection (``describe_fields``, custom fields included):
fetched on demand, kept in ``crm_field_catalogues`` until asked for again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, CrmFieldCatalogue, utcnow
from crmsync.domain.enums import ConnectionStatus
from crmsync.domain.records import Capability, FieldDescription, FieldKind
from crmsync.domain.views import CrmCatalogue, CrmFieldView
from crmsync.engine.connecting import open_connector
from crmsync.engine.runtime import Runtime
from crmsync.errors import Conflict
from crmsync.services.connections import require_connection
from crmsync.services.mapping_store import contact_object


def describes(rt: Runtime, conn: Connection) -> bool:
    """Whether the connector can tell its CRM's fields (``Capability.DESCRIBE_FIELDS``)."""
    return Capability.DESCRIBE_FIELDS in rt.provider(conn.provider).connector.capabilities


def cached(session: Session, conn: Connection) -> tuple[list[FieldDescription], datetime] | None:
    row = session.get(CrmFieldCatalogue, (conn.id, crm_object_of(session, conn)))
    if row is None:
        return None
    return [_description(f) for f in row.fields], row.fetched_at


def crm_object_of(session: Session, conn: Connection) -> str:
    """The CRM object the connection's contacts live in (its object mapping's)."""
    return contact_object(session, conn.id).crm_object


async def fetch(rt: Runtime, conn: Connection) -> list[FieldDescription]:
    """Asks the CRM (a reconnect is needed first when its tokens were refused)."""
    if conn.status == ConnectionStatus.NEEDS_RECONNECT:
        raise Conflict("reconnect the CRM before crmsync can read its fields")
    async with open_connector(rt, conn) as connector:
        return await connector.describe_fields()


def store(session: Session, conn: Connection, fields: list[FieldDescription]) -> datetime:
    crm_object = crm_object_of(session, conn)
    row = session.get(CrmFieldCatalogue, (conn.id, crm_object))
    if row is None:
        row = CrmFieldCatalogue(connection_id=conn.id, crm_object=crm_object)
        session.add(row)
    row.fields = [_stored(f) for f in fields]
    row.fetched_at = utcnow()
    return row.fetched_at


async def catalogue(rt: Runtime, org_id: str, refresh: bool) -> CrmCatalogue:
    """The cached catalogue, fetched first when there is none or ``refresh`` asks."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
        crm_object = crm_object_of(session, conn)
        if not describes(rt, conn):
            return CrmCatalogue(conn.provider, crm_object, False, (), None)
        kept = None if refresh else cached(session, conn)
    if kept is None:
        fields = await fetch(rt, conn)
        with rt.db.session() as session:
            fetched_at = store(session, session.get_one(Connection, conn.id), fields)
        kept = (fields, fetched_at)
    fields, fetched_at = kept
    return CrmCatalogue(conn.provider, crm_object, True, tuple(view(f) for f in fields), fetched_at)


async def peek(rt: Runtime, org_id: str) -> CrmCatalogue:
    """The kept catalogue, or the CRM's answer without keeping it (``fetched_at`` None): for
    a page that shows the fields and must write nothing; a refresh or a saved set keeps it."""
    with rt.db.session() as session:
        conn = require_connection(session, org_id)
        crm_object = crm_object_of(session, conn)
        if not describes(rt, conn):
            return CrmCatalogue(conn.provider, crm_object, False, (), None)
        kept = cached(session, conn)
    fields, fetched_at = kept if kept is not None else (await fetch(rt, conn), None)
    return CrmCatalogue(conn.provider, crm_object, True, tuple(view(f) for f in fields), fetched_at)


def view(field: FieldDescription) -> CrmFieldView:
    return CrmFieldView(
        field.name, field.label, field.kind, field.custom, field.read_only, field.options
    )


def _stored(field: FieldDescription) -> dict[str, object]:
    return {
        "name": field.name,
        "label": field.label,
        "kind": field.kind.value,
        "custom": field.custom,
        "read_only": field.read_only,
        "options": list(field.options),
    }


def _description(raw: dict[str, object]) -> FieldDescription:
    options = raw.get("options")
    return FieldDescription(
        name=str(raw["name"]),
        label=str(raw.get("label", "")),
        kind=FieldKind(str(raw.get("kind", FieldKind.OTHER))),
        custom=bool(raw.get("custom")),
        read_only=bool(raw.get("read_only")),
        options=tuple(str(o) for o in options) if isinstance(options, list) else (),
    )
