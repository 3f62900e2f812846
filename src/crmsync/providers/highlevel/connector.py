"""HighLevel: people as contacts of the chosen location, matched by the Person ID custom field.

HighLevel has no batch write and its upsert matches on email/phone, which must never decide
who a person is. So a batch makes one search for the Person IDs of the writes crmsync has no
contact id for (this also finds creates whose response was lost), then one create or update
per person. Calls go out one at a time: the token refresh holds a database row lock, which
concurrent requests on one event loop could deadlock on.

The read half: contacts by id (``reading.py``), changes from contact search (``changes.py``),
the location's fields, and signed webhooks as hints (``webhooks.py``). Reading and writing draw
from one budget per location: the burst limit (``rate_budget``, per account) and the daily
allowance (``allocation.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.connectors.allocation import DEFAULT_PROBE, DEFAULT_SHARE, DEFAULT_WINDOW
from crmsync.connectors.base import (
    AccountInfo,
    AppNames,
    Connector,
    ConnectorContext,
    CrmUser,
    SetupReport,
)
from crmsync.connectors.conversations import heading, one_by_one
from crmsync.connectors.spec import OWN_APP_OPTIONS, FieldSpec
from crmsync.domain.outcomes import Action, Resolution, deleted_in_crm
from crmsync.domain.records import (
    Capability,
    ChangeHint,
    ChangePage,
    FieldDescription,
    RemoteRecord,
    WebhookRequest,
)
from crmsync.domain.writes import ConversationWrite, RecordWrite, WriteOutcome
from crmsync.errors import InputError, RecordRejected, TransientError
from crmsync.providers.highlevel import changes, mapping, reading, webhooks
from crmsync.providers.highlevel.allocation import HighLevelAllocation
from crmsync.providers.highlevel.client import HighLevelClient
from crmsync.providers.highlevel.echo import OwnWrites
from crmsync.providers.highlevel.spec import API_VERSION, SPEC


def _custom_value(contact: dict[str, Any], field_id: str) -> str | None:
    for item in contact.get("customFields") or []:
        if item.get("id") == field_id:
            value = item.get("value")
            return None if value is None else str(value)
    return None


SETTING_RANGES = {"api_usage_share": (0.1, 1.0), "overlap_seconds": (5.0, 600.0)}
"""Connection settings an org may change, and their bounds."""


class HighLevelConnector(Connector):
    spec = SPEC
    capabilities = frozenset(
        {
            Capability.WRITE,
            Capability.READ,
            Capability.READ_CHANGES,
            Capability.DESCRIBE_FIELDS,
            Capability.WEBHOOKS,
            Capability.CONVERSATIONS,
        }
    )
    conversation_object = "contact_notes"
    connection_options = OWN_APP_OPTIONS

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        ctx.http.headers["Version"] = API_VERSION
        self.budget = self.rate_budget()  # HighLevel counts per location: the account id
        owner = f"highlevel:{ctx.account_id or ctx.settings.get('location_id') or id(self)}"
        self.allocation = ctx.allocations.for_account(owner, HighLevelAllocation)
        self.allocation.configure(
            float(ctx.settings.get("api_usage_share", DEFAULT_SHARE)),
            float(ctx.settings.get("api_window_seconds", DEFAULT_WINDOW)),
            float(ctx.settings.get("api_pause_probe_seconds", DEFAULT_PROBE)),
        )
        self.own = ctx.allocations.for_account(owner, OwnWrites)
        self.overlap_seconds = float(
            ctx.settings.get("overlap_seconds") or changes.DEFAULT_OVERLAP_SECONDS
        )
        self.field_ids: dict[str, str] | None = None
        """Custom field ``fieldKey`` → id in the location, read by ``ensure_setup``."""

    @classmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        return mapping.default_fields(app)

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """``api_usage_share``: the share of the location's daily allowance crmsync may use
        (0.1 to 1); ``overlap_seconds``: how far behind its latest stamp a read of changes
        starts again, for the search index's delay (5 to 600)."""
        unknown = sorted(set(settings) - set(SETTING_RANGES))
        if unknown:
            raise InputError(f"unknown HighLevel setting {unknown[0]!r}")
        clean: dict[str, Any] = {}
        for name, value in settings.items():
            low, high = SETTING_RANGES[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InputError(f"{name} must be a number from {low:g} to {high:g}")
            if not low <= float(value) <= high:
                raise InputError(f"{name} must be a number from {low:g} to {high:g}")
            clean[name] = float(value)
        return clean

    @property
    def location_id(self) -> str:
        return str(self.ctx.account_id or self.ctx.settings.get("location_id") or "")

    def _client(self, location_id: str | None = None) -> HighLevelClient:
        return HighLevelClient(
            self.ctx.http,
            self.ctx.spec,
            self.budget,
            location_id or self.location_id,
            self.allocation,
            self.ctx.retry,
        )

    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        location_id = token.get("locationId")
        if not location_id:
            raise InputError(
                "HighLevel issued an agency token: authorise one sub-account (location)"
            )
        location = await self._client(str(location_id)).location()
        name = str(location.get("name") or f"HighLevel location {location_id}")
        return AccountInfo(
            account_id=str(location_id),
            label=name,
            settings={
                "location_id": str(location_id),
                "location_name": name,
                "company_id": str(token.get("companyId") or location.get("companyId") or ""),
            },
        )

    async def ensure_setup(self) -> SetupReport:
        client = self._client()
        existing = await client.custom_fields()
        ids = {str(f["fieldKey"]): str(f["id"]) for f in existing if f.get("fieldKey")}
        by_name = {str(f.get("name", "")).lower(): str(f["id"]) for f in existing}
        created: list[str] = []
        for name in mapping.custom_fields(self.ctx.app).values():
            key = mapping.field_key(name)
            if key in ids:
                continue
            if name.lower() in by_name:  # same name, key taken by an older field
                ids[key] = by_name[name.lower()]
                continue
            field = await client.create_custom_field(name)
            ids[key] = str(field["id"])
            created.append(name)
        self.field_ids = ids
        return SetupReport(ready=True, created=tuple(created))

    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        company_id = str(self.ctx.settings.get("company_id") or "")
        client = self._client()
        if not company_id:
            company_id = str((await client.location()).get("companyId") or "")
        return [
            CrmUser(id=str(u["id"]), email=str(u.get("email") or ""), active=not u.get("deleted"))
            for u in await client.users(company_id)
        ]

    async def _field_ids(self) -> dict[str, str]:
        if self.field_ids is None:
            fields = await self._client().custom_fields()
            self.field_ids = {
                str(f["fieldKey"]): str(f["id"])
                for f in fields
                if f.get("fieldKey") and f.get("model", "contact") == "contact"
            }
        return self.field_ids

    async def read(self, crm_ids: Sequence[str], fields: Sequence[str]) -> list[RemoteRecord]:
        field_ids = (
            await self._field_ids()
            if any(f.startswith(mapping.CUSTOM_PREFIX) for f in fields)
            else {}
        )
        return await reading.read(self._client(), crm_ids, fields, field_ids)

    async def read_changes(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        field_ids = (
            await self._field_ids()
            if any(f.startswith(mapping.CUSTOM_PREFIX) for f in fields)
            else {}
        )
        reader = changes.ChangeReader(self._client(), self.own, self.overlap_seconds)
        return await reader.read(cursor, fields, field_ids)

    async def describe_fields(self) -> list[FieldDescription]:
        return reading.describe(await self._client().custom_fields())

    @classmethod
    def webhook_hints(
        cls, request: WebhookRequest, settings: Mapping[str, Any]
    ) -> list[ChangeHint]:
        """A delivery's contact event as a hint, once its signature is checked with
        HighLevel's public key (``webhooks.SignatureError`` when forged or stale); the hint's
        account is the event's ``locationId``."""
        webhooks.verify(request.body, request.headers, settings)
        try:
            return webhooks.parse(request.body, request.now_ms)
        except ValueError as exc:
            raise InputError(str(exc)) from exc

    async def push_conversations(self, writes: Sequence[ConversationWrite]) -> list[WriteOutcome]:
        """Each conversation is a note on the contact (``title`` its heading, ``body`` its
        time and text: HighLevel keeps no date of a note's own), updated in place."""
        return await one_by_one(list(writes), self._write_note)

    async def _write_note(self, write: ConversationWrite) -> WriteOutcome:
        text = f"{write.occurred_at}\n\n{write.body}" if write.body else write.occurred_at
        payload = {"title": heading(write), "body": text}
        if write.crm_id:
            updated = await self._client().update_note(write.contact_crm_id, write.crm_id, payload)
            if updated is None:
                return WriteOutcome(write.local_id, resolution=deleted_in_crm("HighLevel"))
            return WriteOutcome(write.local_id, crm_id=write.crm_id)
        note = await self._client().create_note(write.contact_crm_id, payload)
        return WriteOutcome(
            write.local_id,
            created=True,
            crm_id=str(note["id"]),
            response_summary={"id": note["id"]},
        )

    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        if self.field_ids is None:
            await self.ensure_setup()
        field_ids = self.field_ids or {}
        client = self._client()
        person_field = field_ids[mapping.person_id_key(self.ctx.app)]
        unknown = [w.local_id for w in writes if w.crm_id is None]
        existing = await self._existing(client, person_field, unknown) if unknown else {}
        return [
            await self._write(client, write, existing.get(write.local_id), field_ids)
            for write in writes
        ]

    async def _existing(
        self, client: HighLevelClient, person_field: str, person_ids: list[str]
    ) -> dict[str, str]:
        """Person ID → contact id; the oldest contact wins when several carry one Person ID."""
        found: dict[str, tuple[str, str]] = {}
        for contact in await client.search_by_field(person_field, person_ids):
            person_id = _custom_value(contact, person_field)
            if person_id is None:
                continue
            candidate = (str(contact.get("dateAdded") or ""), str(contact["id"]))
            if person_id not in found or candidate < found[person_id]:
                found[person_id] = candidate
        return {person_id: contact_id for person_id, (_, contact_id) in found.items()}

    async def _write(
        self,
        client: HighLevelClient,
        write: RecordWrite,
        existing_id: str | None,
        field_ids: dict[str, str],
    ) -> WriteOutcome:
        fields = dict(write.fields)
        target = write.crm_id or existing_id
        if target is None:  # a create always carries the match key
            fields.setdefault(mapping.person_id_key(self.ctx.app), write.local_id)
        payload, missing = mapping.to_payload(fields, field_ids)
        if missing:
            reason = f"the location has no custom field {', '.join(sorted(missing))}"
            return WriteOutcome(write.local_id, resolution=Resolution(Action.FAIL, reason))
        try:
            if target is None:
                contact = await client.create_contact(payload)
                self.own.wrote(str(contact["id"]), contact.get("dateUpdated"))
                return WriteOutcome(
                    write.local_id,
                    created=True,
                    crm_id=str(contact["id"]),
                    response_summary={"id": contact["id"], "created": True},
                )
            updated = await client.update_contact(target, payload)
            if updated is None:
                gone = deleted_in_crm(self.spec.display_name)
                return WriteOutcome(
                    write.local_id, resolution=gone, response_summary={"error": gone.reason}
                )
            self.own.wrote(target, updated.get("dateUpdated"))
            return WriteOutcome(
                write.local_id, crm_id=target, response_summary={"id": target, "created": False}
            )
        except (RecordRejected, TransientError) as exc:
            # One person's problem; the rest of the batch goes on. Auth errors propagate.
            return WriteOutcome(
                write.local_id,
                resolution=exc.resolution,
                response_summary={"error": exc.resolution.reason},
            )
