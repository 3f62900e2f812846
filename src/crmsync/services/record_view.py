"""An org's view of one record: each mapped field's value and owner, for the host's reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from crmsync.db.tables import OrgRecord
from crmsync.domain.mapping import APP
from crmsync.engine import outbox
from crmsync.engine.contacts import contact_values
from crmsync.engine.reads import first_unlockers, load_flow, people_rows
from crmsync.errors import NotFound
from crmsync.services.orgs import get_org


@dataclass(frozen=True)
class FieldView:
    value: Any
    owner: str
    """``app`` or the provider's name: whose edits win."""
    changed_at: dict[str, Any]


@dataclass(frozen=True)
class RecordView:
    entity: str
    record_id: str
    active: bool
    owner: dict[str, str | None]
    fields: dict[str, FieldView]


def record_view(
    session: Session, org_id: str, entity: str, record_id: str, profile_url_template: str
) -> RecordView:
    """The CRM's value for the fields it owns (the org's ``OrgRecord``), the app's otherwise.
    A contact exists for an org once one of its users unlocked the person."""
    get_org(session, org_id)
    missing = NotFound(f"organisation {org_id!r} has no {entity} {record_id!r}")
    org_record = session.get(OrgRecord, (org_id, entity, record_id))
    app_values: dict[str, Any] = {}
    owner_email: str | None = None
    if entity == "contact":
        owner_email = first_unlockers(session, org_id, [record_id]).get(record_id)
        person = people_rows(session, [record_id]).get(record_id)
        if owner_email is None or person is None:
            raise missing
        app_values = contact_values(person, owner_email, profile_url_template)
    elif org_record is None:
        raise missing
    connections = outbox.active_connections(session, [org_id])
    provider = connections[0].provider if connections else None
    mapped = load_flow(session, connections[0].id).object_for(entity) if connections else None
    crm_values = org_record.fields if org_record is not None else {}
    changed = org_record.changed_at if org_record is not None else {}
    fields: dict[str, FieldView] = {}
    for f in mapped.fields.fields if mapped is not None else ():
        crm_owned = f.source_of_truth != APP
        value = crm_values.get(f.local_field) if crm_owned else app_values.get(f.local_field)
        if crm_owned and f.local_field not in crm_values:
            value = app_values.get(f.local_field)  # not read back yet: what was written
        fields[f.local_field] = FieldView(
            value=value,
            owner=(provider or f.source_of_truth) if crm_owned else APP,
            changed_at=dict(changed.get(f.local_field) or {}),
        )
    owner = {
        "user_id": org_record.owner_user_id if org_record is not None else None,
        "crm_user_email": org_record.owner_crm_email if org_record is not None else owner_email,
    }
    return RecordView(
        entity=entity,
        record_id=record_id,
        active=org_record.active if org_record is not None else True,
        owner=owner,
        fields=fields,
    )
