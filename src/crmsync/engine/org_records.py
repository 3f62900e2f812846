"""The org's view of its records (``OrgRecord``): found or started, and made active or not,
each change of state told once in the feed. Shared by the read (a delete or restore read back)
and the push (a write that found its CRM record deleted)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crmsync.db.tables import OrgRecord, utcnow
from crmsync.domain.enums import FeedKind
from crmsync.engine import feed


def org_record(session: Session, org_id: str, object_type: str, local_id: str) -> OrgRecord:
    """The org's record, added (active, no values yet) the first time it is asked for."""
    record = session.get(OrgRecord, (org_id, object_type, local_id))
    if record is None:
        record = OrgRecord(
            org_id=org_id,
            object_type=object_type,
            local_id=local_id,
            fields={},
            changed_at={},
            active=True,
        )
        session.add(record)
    return record


def set_active(
    session: Session, record: OrgRecord, active: bool, connection_id: str
) -> FeedKind | None:
    """Make the record active or not; the feed's change when that changed it (else None)."""
    if record.active == active:
        return None
    record.active = active
    record.updated_at = utcnow()
    kind = FeedKind.REACTIVATED if active else FeedKind.DEACTIVATED
    feed.append(
        session,
        org_id=record.org_id,
        connection_id=connection_id,
        entity=record.object_type,
        record_id=record.local_id,
        kind=kind,
        fields={},
        owner={"user_id": record.owner_user_id, "crm_user_email": record.owner_crm_email},
    )
    return kind
