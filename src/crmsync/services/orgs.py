"""Organisations, their users, and the unlocks that put people in their CRM."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Org, Person, Unlock, User, new_id
from crmsync.domain.commands import AddUser, ChangeUser, CreateOrg, UnlockPerson
from crmsync.domain.enums import Lane, Role
from crmsync.domain.keys import CONTACT
from crmsync.engine import outbox
from crmsync.errors import Conflict, Forbidden, InputError, NotFound
from crmsync.services.passwords import hash_password


def get_org(session: Session, org_id: str) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id!r} does not exist")
    return org


def create_org(session: Session, data: CreateOrg) -> Org:
    org_id = data.id or new_id()
    if session.get(Org, org_id) is not None:
        raise Conflict(f"organisation {org_id!r} already exists")
    org = Org(id=org_id, name=data.name)
    session.add(org)
    session.flush()
    return org


def create_user(session: Session, org_id: str, data: AddUser) -> User:
    get_org(session, org_id)
    user_id = data.id or new_id()
    if session.get(User, user_id) is not None:
        raise Conflict(f"user {user_id!r} already exists")
    email = data.email.lower()
    taken = session.scalar(select(User).where(User.org_id == org_id, User.email == email))
    if taken is not None:
        raise Conflict(f"organisation {org_id!r} already has a user with email {email}")
    user = User(
        id=user_id,
        org_id=org_id,
        email=email,
        name=data.name,
        role=data.role,
        password_hash=hash_password(data.password) if data.password else None,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, org_id: str, user_id: str) -> User:
    """The org's user; a user of another organisation is as unknown as a missing one."""
    get_org(session, org_id)
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise NotFound(f"organisation {org_id!r} has no user {user_id!r}")
    return user


def require_admin(session: Session, org_id: str, user_id: str | None, what: str) -> None:
    """A change made on behalf of ``user_id`` needs an enabled admin of the org (a member
    reads, never changes); None is the host itself, whose API key is trusted."""
    if user_id is None:
        return
    user = get_user(session, org_id, user_id)
    if user.disabled or user.role != Role.ADMIN:
        raise Forbidden(
            f"only an admin of organisation {org_id!r} can change {what}; "
            f"{user_id!r} is {'disabled' if user.disabled else 'a member'}"
        )


def find_user(session: Session, org_id: str, email: str) -> User:
    """The org's user with this sign-in email (the CLI names users by email)."""
    get_org(session, org_id)
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.org_id == org_id, User.email == email))
    if user is None:
        raise NotFound(f"organisation {org_id!r} has no user with email {email}")
    return user


def update_user(session: Session, user: User, data: ChangeUser) -> User:
    """A new password or the user disabled (or enabled): their browser sessions end, so a
    session opened with the old password, or by someone since disabled, stops working."""
    if data.password is not None:
        user.password_hash = hash_password(data.password)
    if data.disabled is not None:
        user.disabled = data.disabled
    end_sessions(user)
    session.flush()
    return user


def end_sessions(user: User) -> None:
    """Every browser session issued to ``user`` until now is signed out on its next request."""
    user.session_generation += 1


def record_unlocks(
    session: Session, org_id: str, unlocks: Sequence[UnlockPerson]
) -> tuple[int, list[str]]:
    """Record unlocks and queue them live (on a connection that pushes on unlock: the
    default, ``push_on_unlock``); returns (new unlocks, connections with work).

    Everything is checked before anything is written: one bad entry rejects the request.
    """
    get_org(session, org_id)
    if not unlocks:
        raise InputError("no unlocks given")
    person_ids = {u.person_id for u in unlocks}
    user_ids = {u.unlocked_by for u in unlocks}
    known_people = set(
        session.scalars(select(Person.person_id).where(Person.person_id.in_(person_ids)))
    )
    if missing := sorted(person_ids - known_people):
        raise InputError(
            f"unknown person {missing[0]!r}: send it with PUT /api/v1/people/{{person_id}} first"
        )
    members = set(
        session.scalars(select(User.id).where(User.org_id == org_id, User.id.in_(user_ids)))
    )
    if strangers := sorted(user_ids - members):
        raise InputError(f"user {strangers[0]!r} is not a member of organisation {org_id!r}")
    existing: set[tuple[str, str]] = {
        (person_id, user_id)
        for person_id, user_id in session.execute(
            select(Unlock.person_id, Unlock.user_id).where(
                Unlock.org_id == org_id, Unlock.person_id.in_(person_ids)
            )
        )
    }
    new = 0
    for unlock in unlocks:
        key = (unlock.person_id, unlock.unlocked_by)
        if key not in existing:
            session.add(
                Unlock(org_id=org_id, person_id=unlock.person_id, user_id=unlock.unlocked_by)
            )
            existing.add(key)
            new += 1
    session.flush()
    touched = []
    for conn in outbox.active_connections(session, [org_id]):
        if not conn.push_on_unlock:  # the org pushes on its other triggers only
            continue
        outbox.enqueue(session, conn.id, CONTACT, sorted(person_ids), Lane.LIVE)
        touched.append(conn.id)
    return new, touched
