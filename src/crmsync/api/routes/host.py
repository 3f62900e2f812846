"""Host API: people, organisations, users and unlocks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from crmsync.api.deps import HostAuth, RuntimeDep
from crmsync.api.schemas import (
    MAX_PEOPLE_PER_BATCH,
    OrgIn,
    OrgOut,
    PeopleBatchOut,
    PersonBatchItem,
    PersonIn,
    PersonOut,
    SafeStr,
    UnlockIn,
    UnlockList,
    UnlocksAccepted,
    UserIn,
    UserOut,
    UserPatch,
    errors,
)
from crmsync.db.tables import User
from crmsync.services import orgs, people

router = APIRouter(prefix="/api/v1", tags=["host"])
PersonId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")]
UserId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")]


@router.put("/people/{person_id}", response_model=PersonOut, responses=errors(400, 401, 422))
def put_person(person_id: PersonId, body: PersonIn, rt: RuntimeDep, _: HostAuth) -> PersonOut:
    """Create or refresh a person; a change is pushed to every org that unlocked them."""
    _person, touched = rt.db.transaction(
        lambda session: people.upsert_person(session, person_id, body.command())
    )
    for connection_id in touched:
        rt.kick(connection_id)
    return PersonOut(
        person_id=person_id, changed=bool(touched), orgs_notified=len(touched), **body.model_dump()
    )


@router.put("/people", response_model=PeopleBatchOut, responses=errors(400, 401, 422))
def put_people(
    body: Annotated[list[PersonBatchItem], Body(min_length=1, max_length=MAX_PEOPLE_PER_BATCH)],
    rt: RuntimeDep,
    _: HostAuth,
) -> PeopleBatchOut:
    """Create or refresh up to 1,000 people in one transaction, each as `PUT /people/{id}`
    would: a change is pushed to every org that unlocked them. One invalid item, or a person
    given twice, refuses the whole request and nothing is written."""
    items = [(item.person_id, item.command()) for item in body]
    done = rt.db.transaction(lambda session: people.upsert_people(session, items))
    for connection_id in done.touched:
        rt.kick(connection_id)
    return PeopleBatchOut(
        accepted=len(body),
        created=done.created,
        changed=done.changed,
        unchanged=done.unchanged,
        queued=done.queued,
        orgs_notified=len(done.touched),
    )


@router.post("/orgs", response_model=OrgOut, status_code=201, responses=errors(400, 401, 409, 422))
def create_org(body: OrgIn, rt: RuntimeDep, _: HostAuth) -> OrgOut:
    with rt.db.session() as session:
        org = orgs.create_org(session, body.command())
        return OrgOut(id=org.id, name=org.name)


@router.post(
    "/orgs/{org_id}/users",
    response_model=UserOut,
    status_code=201,
    responses=errors(400, 401, 404, 409, 422),
)
def create_user(org_id: SafeStr, body: UserIn, rt: RuntimeDep, _: HostAuth) -> UserOut:
    with rt.db.session() as session:
        user = orgs.create_user(session, org_id, body.command())
        return _user_out(user)


@router.patch(
    "/orgs/{org_id}/users/{user_id}",
    response_model=UserOut,
    responses=errors(400, 401, 404, 422),
)
def update_user(
    org_id: SafeStr, user_id: UserId, body: UserPatch, rt: RuntimeDep, _: HostAuth
) -> UserOut:
    """Set a new password, or disable a user (or enable them again): either signs them out
    of every browser session; a disabled user cannot sign in."""
    with rt.db.session() as session:
        user = orgs.get_user(session, org_id, user_id)
        user = orgs.update_user(session, user, body.command())
        return _user_out(user)


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        org_id=user.org_id,
        email=user.email,
        name=user.name,
        role=user.role,
        disabled=user.disabled,
    )


@router.post(
    "/orgs/{org_id}/unlocks",
    response_model=UnlocksAccepted,
    status_code=202,
    responses=errors(400, 401, 404, 422),
)
def unlock(
    org_id: SafeStr, body: UnlockIn | UnlockList, rt: RuntimeDep, _: HostAuth
) -> UnlocksAccepted:
    """Record that users unlocked people (one, or a list of up to 1,000); they reach the
    org's CRM within seconds."""
    items = [unlock.command() for unlock in (body if isinstance(body, list) else [body])]
    new, touched = rt.db.transaction(lambda session: orgs.record_unlocks(session, org_id, items))
    for connection_id in touched:
        rt.kick(connection_id)
    return UnlocksAccepted(accepted=len(items), new=new, queued=len(items) if touched else 0)
