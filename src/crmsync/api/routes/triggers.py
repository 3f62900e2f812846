"""Push triggers: a contact pushed now, on a score at or above the threshold, or with the
owner a to-do was assigned to (the unlock and the schedule push as before). With the
connection's pushes switched off, each queues its push to go once they are on again."""

from __future__ import annotations

from fastapi import APIRouter

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.schemas import SafeStr, errors
from crmsync.api.trigger_schemas import ScoreIn, TodoIn, TriggerOut
from crmsync.services import triggers

router = APIRouter(prefix="/api/v1/orgs/{org_id}/people/{person_id}", tags=["push triggers"])


@router.post("/sync", response_model=TriggerOut, status_code=202, responses=errors(401, 404, 422))
def push_now(org_id: SafeStr, person_id: SafeStr, rt: RuntimeDep, _: HostAuth) -> TriggerOut:
    """Push the contact to the org's CRM now, in the live lane (the admin UI's "Sync to CRM"):
    only what changed since the last write is written. ``GET`` on this path says where it
    stands."""
    done = rt.db.transaction(lambda session: triggers.push_now(session, org_id, person_id))
    if done.connection_id is not None:
        rt.kick(done.connection_id)
    return TriggerOut.of(done)


@router.put("/score", response_model=TriggerOut, responses=errors(400, 401, 404, 422))
def report_score(
    org_id: SafeStr, person_id: SafeStr, body: ScoreIn, rt: RuntimeDep, _: HostAuth
) -> TriggerOut:
    """Store the person's score in this org; at or above the connection's
    ``push_score_threshold`` the contact is pushed, once per crossing (a report that stays
    at or above it pushes nothing more; falling below and rising again pushes again)."""
    done = rt.db.transaction(
        lambda session: triggers.report_score(session, org_id, person_id, body.score)
    )
    if done.connection_id is not None:
        rt.kick(done.connection_id)
    return TriggerOut.of(done)


@router.put("/todo", response_model=TriggerOut, responses=errors(400, 401, 404, 422))
def assign_todo(
    org_id: SafeStr, person_id: SafeStr, body: TodoIn, rt: RuntimeDep, _: HostAuth
) -> TriggerOut:
    """A to-do of the person is assigned to an org user: the contact is pushed with that user
    as its owner in the CRM (written even where the CRM owns the owner field; a later
    reassignment in the CRM stands). Sent again, the push finds nothing to write."""
    done = rt.db.transaction(
        lambda session: triggers.assign_todo(session, org_id, person_id, body.assigned_to)
    )
    if done.connection_id is not None:
        rt.kick(done.connection_id)
    return TriggerOut.of(done)
