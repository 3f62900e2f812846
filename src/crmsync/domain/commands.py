"""What a caller asks the services to do, already validated by its edge (the host API's
schemas, the CLI's options): plain values, so the services depend on no edge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crmsync.domain.enums import Role, System
from crmsync.domain.mapping import ValueKind


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


@dataclass(frozen=True)
class MapField:
    """One field mapping an admin asks for: an app field to a CRM field, and the system whose
    value wins (``APP`` or ``CRM``). ``kind``, when given, must be the app field's."""

    app_field: str
    crm_field: str
    canonical: System
    kind: ValueKind | None = None


@dataclass(frozen=True)
class MapObject:
    """Every field mapping of one object mapping (the app's ``local_object``), replacing its
    current list as a whole."""

    local_object: str
    fields: tuple[MapField, ...]


@dataclass(frozen=True)
class SaveMappings:
    """The connection's mappings, every object mapping listed once. ``changed_by``: the org
    user making the change, who must be an admin (None: the host itself, trusted)."""

    objects: tuple[MapObject, ...]
    changed_by: str | None = None


@dataclass(frozen=True)
class DeclareField:
    """A custom app field the host declares for its org's records."""

    name: str
    label: str
    kind: ValueKind
    options: tuple[str, ...] = ()
    """A picklist's values."""


@dataclass(frozen=True)
class SaveAppFields:
    """The org's custom app fields, replacing the current set (``changed_by`` as above)."""

    fields: tuple[DeclareField, ...]
    changed_by: str | None = None


@dataclass(frozen=True)
class RecordConversation:
    """The host had a conversation with a person on the org's behalf (the host's id)."""

    id: str
    person_id: str
    channel: str
    direction: str
    subject: str
    body: str
    occurred_at: datetime


@dataclass(frozen=True)
class PushOptions:
    """A change of a connection's push settings; ``score_threshold_given`` tells an explicit
    null (switch the score trigger off) from a field not sent."""

    enabled: bool | None = None
    on_unlock: bool | None = None
    score_threshold: float | None = None
    score_threshold_given: bool = False
