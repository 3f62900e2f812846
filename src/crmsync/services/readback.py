"""Two-way sync's settings and state on a connection: its interval, "Sync now" and "Full
sync", and what its last read took in."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, SyncState
from crmsync.domain.views import ReadBack
from crmsync.engine import inbound
from crmsync.errors import Conflict, InputError


def read_back(session: Session, conn: Connection) -> ReadBack:
    objects = inbound.reading_objects(session, conn.id)
    states = list(
        session.scalars(
            select(SyncState).where(
                SyncState.connection_id == conn.id,
                SyncState.crm_object.in_([o.crm_object for o in objects]),
            )
        )
    )
    first = states[0] if states else None
    return ReadBack(
        two_way=bool(objects),
        interval_minutes=conn.sync_interval_minutes,
        next_run_at=inbound.next_read_at(session, conn.id),
        last_success_at=first.last_success_at if first else None,
        last_full_sync_at=first.last_full_sync_at if first else None,
        last_error=first.last_error if first else None,
        last_report=dict(first.last_report) if first else {},
    )


def set_interval(session: Session, conn: Connection, minutes: int) -> None:
    """From the next read on; a read already scheduled later than the new interval allows
    comes forward."""
    if not inbound.MIN_INTERVAL <= minutes <= inbound.MAX_INTERVAL:
        raise InputError(
            f"sync_interval_minutes must be between {inbound.MIN_INTERVAL} and "
            f"{inbound.MAX_INTERVAL} (24 hours)"
        )
    conn.sync_interval_minutes = minutes
    inbound.reschedule(session, conn)


def sync_now(session: Session, conn: Connection, full: bool) -> None:
    if not inbound.reading_objects(session, conn.id):
        raise Conflict("this connection does not read its CRM back (push only)")
    inbound.request_sync(session, conn.id, full)
