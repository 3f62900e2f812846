"""Request and response bodies of the service API (never database tables).

A request body turns into the domain command the services take (``command()``), and what
the services answer turns into a response body (``of(view)``): the services know no schema.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from crmsync.domain import views
from crmsync.domain.commands import (
    AddUser,
    ChangeUser,
    CreateOrg,
    PersonRecord,
    PushOptions,
    UnlockPerson,
)
from crmsync.domain.enums import Role
from crmsync.domain.modes import ExportMode, ImportMode
from crmsync.textcheck import text_problem as text_problem  # re-exported: api routes use it


def _storable(value: Any) -> Any:
    """Refuses unstorable text anywhere in ``value``: a string, or the keys and values of
    (nested) lists and dicts, so free-form ``dict[str, Any]`` fields are covered too."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _storable(item)
    return value


# A path or query string parameter: the edge refuses NUL and lone surrogates with a 422 that
# names the parameter, instead of letting PostgreSQL fail the query with a 500.
SafeStr = Annotated[str, AfterValidator(_storable)]

DB_INT_MAX = 2**31 - 1
"""The largest operation id: ``Integer`` columns are 32-bit on PostgreSQL (64 on SQLite). A
larger number names no row and, unchecked, overflows the database or its driver (a 500)
instead of being refused, so path and query ids are bounded 1..this (a 422)."""

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$", strip_whitespace=True)
]
# orgs.id and users.id are 64 characters long in the database.
ShortIdentifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$", strip_whitespace=True)
]
Text = Annotated[str, StringConstraints(max_length=300, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]  # name columns
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
URL = re.compile(r"^https?://\S+$")


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; they are UTC, and RFC 3339 wants it said."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL.match(value) or len(value) > 320:
        raise ValueError(f"not an email address: {value!r}")
    return value


class Strict(BaseModel):
    """Every request body: unknown fields are refused, and so is unstorable text in any field
    (one validator for all of them, so a new field cannot forget it)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _storable(value)


class PersonIn(Strict):
    first_name: Name | None = None
    last_name: Name | None = None
    emails: list[str] = Field(default_factory=list, max_length=20)
    phones: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    company: Text | None = None
    title: Text | None = None
    city: Name | None = None
    state: Name | None = None
    zip: Annotated[str, StringConstraints(max_length=40)] | None = None
    country: Name | None = None
    linkedin_url: str | None = None
    profile_url: str | None = None

    @field_validator("emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        return [_email(v) for v in value]

    @field_validator("linkedin_url", "profile_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and (not URL.match(value) or len(value) > 500):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    def command(self) -> PersonRecord:
        return PersonRecord(
            first_name=self.first_name,
            last_name=self.last_name,
            emails=tuple(self.emails),
            phones=tuple(self.phones),
            company=self.company,
            title=self.title,
            city=self.city,
            state=self.state,
            zip=self.zip,
            country=self.country,
            linkedin_url=self.linkedin_url,
            profile_url=self.profile_url,
        )


class PersonOut(PersonIn):
    person_id: str
    changed: bool = False
    orgs_notified: int = 0


MAX_PEOPLE_PER_BATCH = 1000


class PersonBatchItem(PersonIn):
    """One person of ``PUT /api/v1/people``: the single-person body plus its id."""

    person_id: Identifier


class PeopleBatchOut(BaseModel):
    accepted: int = Field(description="People in the request.")
    created: int = Field(description="People that were new.")
    changed: int = Field(description="Known people whose values changed.")
    unchanged: int = Field(description="Known people sent with the values already stored.")
    queued: int = Field(description="Refreshes queued, one per changed person and connection.")
    orgs_notified: int = Field(description="Connections with new work.")


class OrgIn(Strict):
    id: ShortIdentifier | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]

    def command(self) -> CreateOrg:
        return CreateOrg(name=self.name, id=self.id)


class OrgOut(BaseModel):
    id: str
    name: str


Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]


class UserIn(Strict):
    id: ShortIdentifier | None = None
    email: str
    name: Name = ""
    role: str = "member"
    password: Password | None = None

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        return _email(value)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ("admin", "member"):
            raise ValueError("role must be 'admin' or 'member'")
        return value

    def command(self) -> AddUser:
        return AddUser(
            email=self.email,
            name=self.name,
            role=Role(self.role),
            password=self.password,
            id=self.id,
        )


class UserPatch(Strict):
    """A new password, or the user disabled (or enabled again): either signs them out."""

    password: Password | None = None
    disabled: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UserPatch:
        if self.password is None and self.disabled is None:
            raise ValueError("give a new password or disabled (true or false)")
        return self

    def command(self) -> ChangeUser:
        return ChangeUser(password=self.password, disabled=self.disabled)


class UserOut(BaseModel):
    id: str
    org_id: str
    email: str
    name: str
    role: str
    disabled: bool = False


class UnlockIn(Strict):
    person_id: Identifier
    unlocked_by: Identifier

    def command(self) -> UnlockPerson:
        return UnlockPerson(person_id=self.person_id, unlocked_by=self.unlocked_by)


MAX_UNLOCKS_PER_CALL = 1000
UnlockList = Annotated[list[UnlockIn], Field(max_length=MAX_UNLOCKS_PER_CALL)]


class UnlocksAccepted(BaseModel):
    accepted: int
    new: int
    queued: int


class ConnectIn(Strict):
    provider: str
    skip_backfill: bool = False
    options: dict[str, Annotated[str, StringConstraints(max_length=500)]] = Field(
        default_factory=dict,
        max_length=10,
        description="Provider connection options, e.g. Salesforce's login_host.",
    )


class ApiKeyConnectIn(Strict):
    provider: str
    api_key: Annotated[str, StringConstraints(min_length=8, max_length=300, strip_whitespace=True)]
    skip_backfill: bool = False


class SetupIn(Strict):
    create_missing_fields: bool = False


class SetupState(BaseModel):
    missing: list[str] = Field(default_factory=list)
    created: list[str] = Field(default_factory=list)
    message: str = ""


class AuthorizeOut(BaseModel):
    authorize_url: str
    state_expires_at: UtcDateTime


class ConnectionPatch(Strict):
    preserve_manual_edits: bool | None = None
    sync_interval_minutes: int | None = Field(
        None, description="How often changes are read back from the CRM: 10 to 1440 minutes."
    )
    settings: dict[str, Any] | None = Field(
        None, description="Provider choices, e.g. Salesforce's converted_leads: update|skip."
    )
    conversations_enabled: StrictBool | None = Field(
        None, description="Export the host's conversations to the CRM (off by default)."
    )
    import_mode: ImportMode | None = Field(None, description="Which CRM records reach the app.")
    export_mode: ExportMode | None = Field(None, description="What a push writes to the CRM.")
    push_enabled: bool | None = Field(
        None, description="False pauses every push (work stays queued); true resumes it."
    )
    push_on_unlock: bool | None = Field(None, description="Does an unlock push the contact?")
    push_score_threshold: float | None = Field(
        None, allow_inf_nan=False, description="A score at or above it pushes; null: off."
    )
    changed_by: ShortIdentifier | None = Field(
        None, description="The org user making the change: refused (403) unless an admin."
    )

    def push_options(self) -> PushOptions:
        given = "push_score_threshold" in self.model_fields_set
        return PushOptions(self.push_enabled, self.push_on_unlock, self.push_score_threshold, given)


class SyncCounts(BaseModel):
    synced: int
    pending: int
    failed: int
    skipped: int

    @classmethod
    def of(cls, view: views.SyncCounts) -> SyncCounts:
        return cls(
            synced=view.synced, pending=view.pending, failed=view.failed, skipped=view.skipped
        )


class BackfillProgress(BaseModel):
    total: int
    done: int
    remaining: int
    estimated_seconds: float | None

    @classmethod
    def of(cls, view: views.BackfillProgress) -> BackfillProgress:
        return cls(
            total=view.total,
            done=view.done,
            remaining=view.remaining,
            estimated_seconds=view.estimated_seconds,
        )


class SyncRequest(Strict):
    full: bool = Field(
        False, description="Read everything again (reconciliation), not only what changed."
    )


class ReadBackOut(BaseModel):
    """Two-way sync: how the connection reads its CRM back."""

    two_way: bool
    interval_minutes: int
    next_run_at: UtcDateTime | None
    last_success_at: UtcDateTime | None
    last_full_sync_at: UtcDateTime | None
    last_error: str | None
    last_report: dict[str, int]

    @classmethod
    def of(cls, view: views.ReadBack) -> ReadBackOut:
        return cls(
            two_way=view.two_way,
            interval_minutes=view.interval_minutes,
            next_run_at=view.next_run_at,
            last_success_at=view.last_success_at,
            last_full_sync_at=view.last_full_sync_at,
            last_error=view.last_error,
            last_report=dict(view.last_report),
        )


class ConnectionOut(BaseModel):
    id: str
    org_id: str
    provider: str
    provider_name: str
    status: str
    status_reason: str | None
    connected_at: UtcDateTime
    account_id: str | None
    account_label: str | None
    skip_backfill: bool
    preserve_manual_edits: bool
    conversations_enabled: bool
    settings: dict[str, Any]
    import_mode: str = Field(description="match_existing | update_existing | create_new")
    export_mode: str = Field(
        description="all | match_existing_import_new | update_existing_import_new"
    )
    counts: SyncCounts
    backfill: BackfillProgress
    queue: dict[str, int]
    recommendations: list[str] = Field(default_factory=list)
    setup: SetupState = Field(default_factory=SetupState)
    sync: ReadBackOut | None = None
    push: PushOut = Field(default_factory=lambda: PushOut(enabled=True, on_unlock=True))

    @classmethod
    def of(cls, view: views.ConnectionState) -> ConnectionOut:
        return cls(
            id=view.id,
            org_id=view.org_id,
            provider=view.provider,
            provider_name=view.provider_name,
            status=view.status,
            status_reason=view.status_reason,
            connected_at=view.connected_at,
            account_id=view.account_id,
            account_label=view.account_label,
            skip_backfill=view.skip_backfill,
            preserve_manual_edits=view.preserve_manual_edits,
            conversations_enabled=view.conversations_enabled,
            settings=view.settings,
            import_mode=view.import_mode,
            export_mode=view.export_mode,
            counts=SyncCounts.of(view.counts),
            backfill=BackfillProgress.of(view.backfill),
            queue=view.queue,
            recommendations=list(view.recommendations),
            setup=SetupState(
                missing=list(view.setup.missing),
                created=list(view.setup.created),
                message=view.setup.message,
            ),
            sync=ReadBackOut.of(view.sync) if view.sync is not None else None,
            push=PushOut(**dataclasses.asdict(view.push)),
        )


class PushOut(BaseModel):
    enabled: bool = Field(description="False: every push waits, queued (reads back go on).")
    on_unlock: bool
    score_threshold: float | None = None


class Message(BaseModel):
    detail: str


class FieldIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """A refused request: what was wrong, in words, or per field for a malformed request."""

    detail: str | list[FieldIssue]


_ERRORS: dict[int, dict[str, Any]] = {
    400: {"model": Message, "description": "The request body could not be read."},
    401: {"model": Message, "description": "Missing or invalid host API key."},
    403: {"model": Message, "description": "The acting user may read this, not change it."},
    404: {"model": Message, "description": "The organisation, or what the path names, is unknown."},
    409: {"model": Message, "description": "Conflicts with the current state; nothing was done."},
    413: {"model": Message, "description": "The request body is over `max_body_bytes`."},
    422: {"model": Problem, "description": "Invalid input; nothing was written."},
    502: {"model": Message, "description": "The CRM call failed."},
    503: {"model": Message, "description": "The database is unavailable."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route declares in its OpenAPI ``responses``."""
    return {code: _ERRORS[code] for code in codes}
