"""A scriptable fake CRM for engine tests: what each call does is written by the test.

``FakeCrm`` holds the fake's records and a script of steps, one per push (or bulk job):
land, land as created, fail every record with a Resolution, raise a ConnectorError, or hold
(for some seconds, or until a condition holds) and then do another step. Every call is
counted. ``fake_provider`` makes a provider of it that a ``Runtime`` offers beside the
built-in ones (``Runtime.offered``); it connects with an API key, so no OAuth server runs.
It shares no code with any real connector: the engine's side is tested on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from crmsync.connectors.base import AccountInfo, AppNames, Connector, CrmUser, SetupReport
from crmsync.connectors.registry import Provider
from crmsync.connectors.spec import FieldSpec, OAuthSpec, ProviderSpec, RateLimitSpec
from crmsync.domain.outcomes import Resolution
from crmsync.domain.writes import RecordWrite, WriteOutcome
from crmsync.errors import ConnectorError, InputError
from crmsync.providers.catalog import BUILTIN
from tests.support.world import Host, settings_for_test

FAKE_SPEC = ProviderSpec(
    name="fake",
    display_name="Fake CRM",
    crm_object="contacts",
    record_label="contact",
    oauth=OAuthSpec("https://fake-crm.invalid/authorize", "https://fake-crm.invalid/token", ()),
    api_base="https://fake-crm.invalid",
    rate_limit=RateLimitSpec(10_000, 1.0),
    batch_size=100,
    upserts=True,
)
PERSON_ID_FIELD = "fake_person_id"
API_KEY = "fake-crm-key"


@dataclass(frozen=True)
class Land:
    """Every write of the call lands; ``created`` None: created if the fake had no record."""

    created: bool | None = None


@dataclass(frozen=True)
class Fail:
    """Every write of the call comes back failed with ``resolution``."""

    resolution: Resolution


@dataclass(frozen=True)
class Raise:
    """The call fails as a whole with ``error``."""

    error: ConnectorError


@dataclass(frozen=True)
class Hold:
    """Wait ``seconds``, then until ``until()`` holds (at most ``timeout``), then ``then``."""

    seconds: float = 0.0
    until: Callable[[], bool] | None = None
    timeout: float = 20.0
    then: Step = Land()


Step = Land | Fail | Raise | Hold


@dataclass
class FakeCrm:
    """The fake's state: records by person, each call's people, and the script."""

    pushes: deque[Step] = field(default_factory=deque)
    """One step per ``push`` call, in order; ``default`` once it runs out."""
    bulk_jobs: deque[Step] = field(default_factory=deque)
    """One step per ``push_bulk`` call, likewise."""
    default: Step = Land()
    fields_exist: bool = True
    """False: the setup check reports the Person ID field missing until allowed to create it."""
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    landed: Counter[str] = field(default_factory=Counter)
    """How many writes landed, by person."""
    requests: list[list[str]] = field(default_factory=list)
    """Each push's people, in the order sent."""
    jobs: list[list[str]] = field(default_factory=list)
    """Each bulk job's people."""
    open_jobs: int = 0
    most_open_jobs: int = 0
    """The most bulk jobs open at once so far (a latch: it never goes down)."""
    calls: Counter[str] = field(default_factory=Counter)

    def script(self, *pushes: Step) -> None:
        self.pushes.extend(pushes)

    def pushed(self, person_prefix: str) -> bool:
        """Has a push (not a bulk job) carried a person whose id starts so?"""
        return any(p.startswith(person_prefix) for people in self.requests for p in people)

    async def play(self, step: Step, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        match step:
            case Land(created=created):
                return [self._land(w, created) for w in writes]
            case Fail(resolution=resolution):
                return [WriteOutcome(w.local_id, resolution=resolution) for w in writes]
            case Raise(error=error):
                raise error
            case Hold(seconds=seconds, until=until, timeout=timeout, then=then):
                await asyncio.sleep(seconds)
                deadline = time.monotonic() + timeout
                while until is not None and not until():
                    assert time.monotonic() < deadline, "the fake CRM held past its timeout"
                    await asyncio.sleep(0.01)
                return await self.play(then, writes)

    def _land(self, write: RecordWrite, created: bool | None) -> WriteOutcome:
        new = write.local_id not in self.records
        record = self.records.setdefault(write.local_id, {})
        record.update(write.fields)
        self.landed[write.local_id] += 1
        crm_id = f"fake-{write.local_id}"
        return WriteOutcome(
            write.local_id, created=new if created is None else created, crm_id=crm_id
        )


class FakeConnector(Connector):
    """Speaks to a ``FakeCrm`` in memory; each ``fake_provider`` gives it its own."""

    spec: ClassVar[ProviderSpec] = FAKE_SPEC
    crm: ClassVar[FakeCrm]

    @classmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        return [
            FieldSpec("person_id", PERSON_ID_FIELD, "custom"),
            FieldSpec("first_name", "firstname", "standard"),
            FieldSpec("last_name", "lastname", "standard"),
            FieldSpec("email", "email", "standard"),
            FieldSpec("owner", "owner_id", "standard"),
        ]

    @classmethod
    def oauth_overrides(cls, options: dict[str, str]) -> dict[str, Any]:
        """The org's own OAuth app: a client id and secret, nothing else."""
        unknown = sorted(set(options) - {"client_id", "client_secret"})
        if unknown:
            raise InputError(f"unknown Fake CRM option {unknown[0]!r}")
        return dict(options)

    @classmethod
    def api_key_auth(cls, api_key: str) -> httpx.Auth:
        return httpx.Auth()  # the fake makes no HTTP request

    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        self.crm.calls["describe_account"] += 1
        return AccountInfo("fake-account", "Fake CRM account")

    async def ensure_setup(self) -> SetupReport:
        self.crm.calls["ensure_setup"] += 1
        if self.crm.fields_exist:
            return SetupReport(True)
        if not self.ctx.settings.get("create_missing_fields"):
            return SetupReport(False, missing=(PERSON_ID_FIELD,), message="install the app")
        self.crm.fields_exist = True
        return SetupReport(True, created=(PERSON_ID_FIELD,))

    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        self.crm.calls["list_users"] += 1
        return [CrmUser(f"owner-{i}", email) for i, email in enumerate(emails)]

    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        crm = self.crm
        crm.calls["push"] += 1
        crm.requests.append([w.local_id for w in writes])
        return await crm.play(crm.pushes.popleft() if crm.pushes else crm.default, writes)

    async def push_bulk(
        self, writes: Sequence[RecordWrite], heartbeat: Callable[[], Awaitable[None]]
    ) -> list[WriteOutcome]:
        crm = self.crm
        crm.calls["push_bulk"] += 1
        crm.jobs.append([w.local_id for w in writes])
        crm.open_jobs += 1
        crm.most_open_jobs = max(crm.most_open_jobs, crm.open_jobs)
        try:
            await heartbeat()
            return await crm.play(crm.bulk_jobs.popleft() if crm.bulk_jobs else crm.default, writes)
        finally:
            crm.open_jobs -= 1


def fake_provider(crm: FakeCrm, **spec_changes: Any) -> Provider:
    """A provider whose connector speaks to ``crm``, its spec changed by ``spec_changes``
    (e.g. ``bulk_threshold``): a class of its own, so two tests' fakes share nothing."""

    class Scripted(FakeConnector):
        pass

    Scripted.crm = crm
    Scripted.spec = dataclasses.replace(FAKE_SPEC, **spec_changes)
    return Provider(Scripted)


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the fake CRM's tests make no HTTP request: {request.url}")


class FakeWorld(Host):
    """crmsync with the fake CRM offered beside the built-in ones, connected by API key."""

    def __init__(
        self, db_url: str, data_dir: Path, crm: FakeCrm, spec: dict[str, Any], **settings: Any
    ) -> None:
        self.crm = crm
        offered = (*BUILTIN, fake_provider(crm, **spec))
        super().__init__(
            settings_for_test(db_url, data_dir, {}, **settings),
            httpx.MockTransport(_no_network),
            offered,
        )

    def connect(self, org_id: str, skip_backfill: bool = False) -> dict[str, Any]:
        r = self.api.post(
            f"/api/v1/orgs/{org_id}/connection/api-key",
            json={"provider": FAKE_SPEC.name, "api_key": API_KEY, "skip_backfill": skip_backfill},
        )
        assert r.status_code == 201, r.text
        return self.status(org_id)


@contextmanager
def fake_world(
    db_url: str,
    data_dir: Path,
    crm: FakeCrm | None = None,
    spec: dict[str, Any] | None = None,
    **settings: Any,
) -> Iterator[FakeWorld]:
    w = FakeWorld(db_url, data_dir, crm or FakeCrm(), spec or {}, **settings)
    try:
        yield w
    finally:
        w.close()
