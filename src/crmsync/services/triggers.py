"""What pushes a contact to the org's CRM besides an unlock: the manual "Sync to CRM", a score
at or above the connection's threshold, and a to-do assigned to one of the org's users (who
becomes the record's owner); and the connection's push switches.

Every trigger queues the contact in the live lane, in the caller's transaction. Whether the
push goes out now is the engine's business: with pushes switched off (``push_enabled``) the
work stays queued and goes once they are switched on again.
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from crmsync.db.tables import Connection, User, utcnow
from crmsync.domain.commands import PushOptions
from crmsync.domain.enums import Lane
from crmsync.domain.keys import CONTACT
from crmsync.domain.views import Triggered
from crmsync.engine import org_records, outbox
from crmsync.engine.contacts import OWNER
from crmsync.errors import InputError, NotFound
from crmsync.services.connections import active_connection, require_connection
from crmsync.services.history import person_details
from crmsync.services.orgs import get_org


def _require_person(session: Session, org_id: str, person_id: str) -> None:
    get_org(session, org_id)
    if person_details(session, org_id, person_id) is None:
        raise NotFound(f"person {person_id!r} does not exist in organisation {org_id!r}")


def _queue(session: Session, conn: Connection | None, person_id: str) -> str | None:
    if conn is None:
        return None
    outbox.enqueue(session, conn.id, CONTACT, [person_id], Lane.LIVE)
    return conn.id


def _paused(conn: Connection) -> str:
    return "" if conn.push_enabled else " (pushes are switched off: it waits until they are on)"


def push_now(session: Session, org_id: str, person_id: str) -> Triggered:
    """The manual push ("Sync to CRM", ``POST …/people/{id}/sync``): queue the contact live on
    the org's connection. Only what changed since the last write is written, as for any
    push."""
    conn = require_connection(session, org_id)
    _require_person(session, org_id, person_id)
    return Triggered(
        _queue(session, conn, person_id),
        f"queued: the contact is sent to the CRM in a moment{_paused(conn)}",
    )


def report_score(session: Session, org_id: str, person_id: str, score: float) -> Triggered:
    """Store the host's score of the person in this org; push when it crosses the threshold.

    Once per crossing: a score at or above the threshold pushes when the score stored before
    was below it (or none was); reports that stay at or above it push nothing more, and a
    score that falls below and rises again pushes again. A threshold set or lowered later
    applies from the next report on (it pushes no record by itself)."""
    if not math.isfinite(score):
        raise InputError("score must be a finite number")
    _require_person(session, org_id, person_id)
    record = org_records.org_record(session, org_id, CONTACT, person_id)
    before, record.score = record.score, score
    record.updated_at = utcnow()
    conn = active_connection(session, org_id)
    threshold = conn.push_score_threshold if conn is not None else None
    if conn is None:
        return Triggered(None, "score stored; no CRM is connected: nothing is pushed")
    if threshold is None:
        return Triggered(None, "score stored; no score threshold is set: nothing is pushed")
    if score < threshold:
        return Triggered(None, f"score stored; below the threshold {threshold:g}: not pushed")
    if before is not None and before >= threshold:
        return Triggered(
            None, f"score stored; already at or above the threshold {threshold:g}: not pushed again"
        )
    return Triggered(
        _queue(session, conn, person_id),
        f"score reached the threshold {threshold:g}: the contact is pushed{_paused(conn)}",
    )


def assign_todo(session: Session, org_id: str, person_id: str, user_id: str) -> Triggered:
    """A to-do of the person was assigned to the org's user ``user_id``: the user becomes the
    owner in the org's view of the record, and the contact is pushed with that owner.

    The owner is the same mapped field an unlock fills (the first unlocker, at the create);
    an assignment is the app's change of it, stamped (``owner_assigned_at``, and in
    ``changed_at`` as any change), so the push writes it even where the CRM owns the owner
    field. A reassignment made in the CRM later is read back and stands, as before."""
    get_org(session, org_id)
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise InputError(
            f"assigned_to: user {user_id!r} is not a member of organisation {org_id!r}"
        )
    if user.disabled:
        raise InputError(f"assigned_to: user {user_id!r} is disabled")
    _require_person(session, org_id, person_id)
    record = org_records.org_record(session, org_id, CONTACT, person_id)
    now = utcnow()
    record.owner_user_id = user.id
    record.owner_crm_email = user.email
    record.owner_assigned_at = now
    stamps = dict(record.changed_at or {})
    stamps[OWNER] = {**stamps.get(OWNER, {}), "app": now.isoformat()}
    record.changed_at = stamps
    record.updated_at = now
    conn = active_connection(session, org_id)
    if conn is None:
        return Triggered(None, f"{user.email} owns the contact; no CRM is connected")
    return Triggered(
        _queue(session, conn, person_id),
        f"{user.email} owns the contact: it is pushed with that owner{_paused(conn)}",
    )


def set_push_options(session: Session, conn: Connection, options: PushOptions) -> bool:
    """Apply ``options``; returns True when pushes were switched back on (the caller kicks
    the connection: its queue resumes where it stopped)."""
    threshold = options.score_threshold
    if options.score_threshold_given and threshold is not None and not math.isfinite(threshold):
        raise InputError("push_score_threshold must be a finite number, or null to switch it off")
    resumed = options.enabled is True and not conn.push_enabled
    if options.enabled is not None:
        conn.push_enabled = options.enabled
    if options.on_unlock is not None:
        conn.push_on_unlock = options.on_unlock
    if options.score_threshold_given:
        conn.push_score_threshold = threshold
    return resumed
