"""Who may sign in to the admin UI, and whose browser session is still live: the reads and
writes behind the admin UI's sign-in, kept here so the UI never queries the tables."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from crmsync.db.tables import Org, User
from crmsync.services.orgs import end_sessions
from crmsync.services.passwords import hash_password, verify_password

_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
"""Verified against when no user matches, so a wrong email costs as long as a wrong password."""


def matching_users(session: Session, email: str, password: str) -> list[User]:
    """Every enabled user with this email whose password matches (an email may exist in
    several orgs). A disabled user is refused like a wrong password: no more is said."""
    users = session.scalars(select(User).where(User.email == email.strip().lower())).all()
    if not users:
        verify_password(password, _DUMMY_HASH)
        return []
    return [u for u in users if verify_password(password, u.password_hash) and not u.disabled]


def org_names(session: Session, org_ids: list[str]) -> dict[str, str]:
    rows = session.execute(select(Org.id, Org.name).where(Org.id.in_(org_ids)))
    return {org_id: name for org_id, name in rows}


def live_user(session: Session, user_id: str, generation: object) -> tuple[User, Org] | None:
    """The session's user and org, while the session's generation is the user's own (Sign
    out, a new password or disabling the user moved it on) and the user is enabled."""
    user = session.get(User, user_id)
    org = session.get(Org, user.org_id) if user is not None else None
    if user is None or org is None or not user.password_hash or user.disabled:
        return None
    return (user, org) if user.session_generation == generation else None


def end_session(session: Session, user_id: str, generation: object) -> None:
    """Sign out: the user's generation moves on, unless this session was already over."""
    user = session.get(User, user_id)
    if user is not None and user.session_generation == generation:
        end_sessions(user)
