"""What a caller asks the services to do, already validated by its edge (the host API's
schemas, the CLI's options): plain values, so the services depend on no edge."""

from __future__ import annotations

from dataclasses import dataclass

from crmsync.domain.enums import Role


@dataclass(frozen=True)
class CreateOrg:
    name: str
    id: str | None = None
    """None: the service makes one up."""


@dataclass(frozen=True)
class AddUser:
    email: str
    name: str = ""
    role: Role = Role.MEMBER
    password: str | None = None
    """None: the user cannot sign in to the admin UI until one is set."""
    id: str | None = None


@dataclass(frozen=True)
class ChangeUser:
    """A new password, or the user disabled (or enabled again); None leaves it as it is."""

    password: str | None = None
    disabled: bool | None = None


@dataclass(frozen=True)
class UnlockPerson:
    """A user of the org unlocked a person: from now on the org's CRM holds them."""

    person_id: str
    unlocked_by: str


@dataclass(frozen=True)
class PersonRecord:
    """The host's values for one person: every field is content (the id is not)."""

    first_name: str | None = None
    last_name: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    company: str | None = None
    title: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    linkedin_url: str | None = None
    profile_url: str | None = None
