"""Close: each person is a Lead with one Contact, found by the Person ID custom field.

Reading back (``changes``, ``reading``, ``webhooks``): the Contact, from Close's event log, with
its own signed webhook subscription as hints.

Close has no upsert and no unique fields, so a write without a known contact id searches first:
one ``POST /data/search/`` for the whole batch, then one ``POST /lead/`` (Lead and nested
Contact in a single call) per person not found. A create whose answer was lost is found by that
search on the retry instead of being made twice. Later writes update the Contact in place and
never touch the Lead, which users rename, merge and reorganise in Close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from crmsync.connectors.base import (
    SETUP_KEPT,
    AccountInfo,
    AppNames,
    Connector,
    ConnectorContext,
    CrmUser,
    SetupReport,
)
from crmsync.connectors.conversations import note_text, one_by_one
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
from crmsync.errors import (
    InputError,
    RecordRejected,
    SetupRequired,
    TransientError,
)
from crmsync.providers.close import changes, mapping, reading, webhooks
from crmsync.providers.close.client import CloseClient
from crmsync.providers.close.mapping import Split
from crmsync.providers.close.spec import SPEC

OUTAGE_AFTER = 3
"""Transient failures in a row after which the rest of a batch is held back, not sent."""


SETTINGS = ("integration_user_id", "api_key_id")
"""What marks crmsync's own writes in Close's events, where the org tells it: the Close user
crmsync connected as when that user is the integration's alone, or the id of its API key."""


def _own(settings: Mapping[str, Any]) -> changes.Own:
    user, key = settings.get("integration_user_id"), settings.get("api_key_id")
    return changes.Own(api_key_id=str(key) if key else None, user_id=str(user) if user else None)


class CloseConnector(Connector):
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
    conversation_object = "activity.note"
    connection_options = OWN_APP_OPTIONS

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        # one budget per Close organisation: every connection to it shares the 20 req/s
        self.client = CloseClient(ctx.http, ctx.spec, self.rate_budget(), ctx.retry)
        self.field_ids: dict[str, str] | None = None
        """Contact custom field name → ``cf_…`` id, read by ``ensure_setup``."""
        self.changes = changes.ChangeReader(self.client, _own(ctx.settings))

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise InputError(f"Close has no connection setting {', '.join(unknown)}")
        bad = [k for k, v in settings.items() if v is not None and not isinstance(v, str)]
        if bad:
            raise InputError(f"{', '.join(sorted(bad))}: a Close id (text) or null")
        return dict(settings)

    @classmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        return mapping.default_fields(app)

    @classmethod
    def api_key_auth(cls, api_key: str) -> httpx.Auth:
        """Close API keys authenticate as HTTP Basic: the key as user name, no password."""
        return httpx.BasicAuth(api_key, "")

    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        """The organisation the user picked on the consent page (the token names it)."""
        me = await self.client.me()
        organizations = [o for o in me.get("organizations") or [] if o.get("id")]
        chosen = token.get("organization_id")
        org = next((o for o in organizations if o["id"] == chosen), None)
        if org is None and organizations and not chosen:
            org = organizations[0]
        if org is None:
            raise InputError("the Close user is not a member of the authorised organisation")
        return AccountInfo(
            account_id=str(org["id"]),
            label=str(org.get("name") or f"Close organisation {org['id']}"),
            settings={"organization_name": org.get("name"), "close_user_id": me.get("id")},
        )

    async def ensure_setup(self) -> SetupReport:
        existing = {str(f["name"]): f for f in await self.client.contact_fields()}
        created: list[str] = []
        clashes: list[str] = []
        for definition in mapping.custom_fields(self.ctx.app):
            name = definition["name"]
            found = existing.get(name)
            if found is None:
                existing[name] = await self.client.create_contact_field(definition)
                created.append(name)
            elif found.get("type") != definition["type"]:
                clashes.append(f"{name!r} is a {found.get('type')} field, not {definition['type']}")
        self.field_ids = {name: str(f["id"]) for name, f in existing.items()}
        if clashes:
            message = "Close has contact custom fields crmsync cannot use: " + "; ".join(clashes)
            return SetupReport(ready=False, created=tuple(created), message=message)
        kept = await self._subscribe()
        return SetupReport(ready=True, created=tuple(created), kept=kept)

    def _kept(self) -> dict[str, Any]:
        return dict(self.ctx.settings.get(SETUP_KEPT) or {})

    async def _subscribe(self) -> dict[str, Any]:
        """crmsync's own subscription to contact events: made when missing, made again when
        Close paused it; returns what the connection must keep (nothing when unchanged)."""
        url = self.ctx.webhook_url
        if not url:
            return {}
        wanted = self._kept().get("webhook_id")
        found = next((h for h in await self.client.webhooks() if h.get("id") == wanted), None)
        if found is not None and found.get("status") == "active" and found.get("url") == url:
            return {}
        if found is not None:
            await self.client.delete_webhook(str(found["id"]))
        created = await self.client.create_webhook(url, webhooks.EVENTS)
        return {
            "webhook_id": str(created["id"]),
            "webhook_signature_key": str(created["signature_key"]),
        }

    async def teardown(self) -> None:
        """The connection's own subscription goes with it (one of Close's 40)."""
        wanted = self._kept().get("webhook_id")
        if wanted:
            await self.client.delete_webhook(str(wanted))

    async def _read_ids(self) -> dict[str, str]:
        """Custom field names → ids, for reading (no setup: reading creates nothing)."""
        if self.field_ids is None:
            fields = await self.client.contact_fields()
            self.field_ids = {str(f["name"]): str(f["id"]) for f in fields}
        return self.field_ids

    async def read(self, crm_ids: Sequence[str], fields: Sequence[str]) -> list[RemoteRecord]:
        return await reading.read(self.client, crm_ids, fields, await self._read_ids())

    async def read_changes(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        return await self.changes.read(cursor, fields, self._read_ids)

    async def describe_fields(self) -> list[FieldDescription]:
        return reading.describe(await self.client.contact_fields())

    @classmethod
    def webhook_account(cls, request: WebhookRequest) -> str | None:
        return webhooks.account(request.body, request.headers)

    @classmethod
    def webhook_hints(
        cls, request: WebhookRequest, settings: Mapping[str, Any]
    ) -> list[ChangeHint]:
        """A delivery checked against the connection's own signature key (``settings`` are
        the connection's), as hints."""
        webhooks.verify(settings, request.body, request.headers, request.now_ms)
        return webhooks.hints(request.body, _own(settings))

    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        return [
            CrmUser(id=str(u["id"]), email=str(u.get("email") or ""))
            for u in await self.client.users()
        ]

    async def push_conversations(self, writes: Sequence[ConversationWrite]) -> list[WriteOutcome]:
        """Each conversation is a note activity on the contact's lead, tied to the contact
        (``contact_id``), at its time (``activity_at``); updated in place once written."""
        return await one_by_one(list(writes), self._write_note)

    async def _write_note(self, write: ConversationWrite) -> WriteOutcome:
        text = {"note": note_text(write), "activity_at": write.occurred_at}
        if write.crm_id:
            if await self.client.update_note(write.crm_id, text) is None:
                return WriteOutcome(write.local_id, resolution=deleted_in_crm("Close"))
            return WriteOutcome(write.local_id, crm_id=write.crm_id)
        contact = await self.client.contact(write.contact_crm_id)
        if contact is None:
            return WriteOutcome(write.local_id, resolution=deleted_in_crm("Close"))
        payload = {"lead_id": contact["lead_id"], "contact_id": write.contact_crm_id, **text}
        created = await self.client.create_note(payload)
        return WriteOutcome(
            write.local_id,
            created=True,
            crm_id=str(created["id"]),
            response_summary={"id": created["id"]},
        )

    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        ids = await self._field_ids()
        outcomes: dict[str, WriteOutcome] = {}
        planned: list[tuple[RecordWrite, Split]] = []
        for write in writes:
            split = mapping.split_fields(write.fields)
            problem = _unmappable(split, ids)
            if problem:
                outcomes[write.local_id] = _failed(write, problem)
            else:
                planned.append((write, split))
        found = await self._find([w for w, _ in planned if w.crm_id is None], ids)
        failures_in_a_row = 0
        for write, split in planned:
            if failures_in_a_row >= OUTAGE_AFTER:
                outcomes[write.local_id] = _held_back(write, failures_in_a_row)
                continue
            try:
                outcomes[write.local_id] = await self._write(
                    write, split, found.get(write.local_id), ids
                )
                failures_in_a_row = 0
            except RecordRejected as exc:
                outcomes[write.local_id] = _failed(write, exc.resolution)
                failures_in_a_row = 0
            except TransientError as exc:  # incl. a create whose answer was lost
                outcomes[write.local_id] = WriteOutcome(write.local_id, resolution=exc.resolution)
                failures_in_a_row += 1
        return [outcomes[w.local_id] for w in writes]

    async def _field_ids(self) -> dict[str, str]:
        if self.field_ids is None:
            report = await self.ensure_setup()
            if not report.ready:
                raise SetupRequired(report.message)
        assert self.field_ids is not None
        return self.field_ids

    async def _find(
        self, writes: Sequence[RecordWrite], ids: Mapping[str, str]
    ) -> dict[str, dict[str, Any]]:
        """Contacts already holding these person ids, oldest first when Close has several."""
        if not writes:
            return {}
        field_id = ids[mapping.person_id_field(self.ctx.app)]
        key = f"custom.{field_id}"
        rows = await self.client.contacts_by_custom_value(
            field_id, [w.local_id for w in writes], ["id", "lead_id", "date_created", key]
        )
        found: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: str(r.get("date_created") or "")):
            found.setdefault(str(row.get(key)), row)
        return found

    async def _write(
        self,
        write: RecordWrite,
        split: Split,
        existing: dict[str, Any] | None,
        ids: Mapping[str, str],
    ) -> WriteOutcome:
        if write.crm_id is not None:
            contact_id = write.crm_id
        elif existing is not None:
            contact_id = str(existing["id"])
        else:
            return await self._create(write, split, ids)
        payload = await self._contact_update(contact_id, split, ids)
        if payload and await self.client.update_contact(contact_id, payload) is None:
            gone = deleted_in_crm(self.spec.display_name)
            return WriteOutcome(
                write.local_id, resolution=gone, response_summary={"error": gone.reason}
            )
        summary: dict[str, Any] = {"contact_id": contact_id, "sent": sorted(payload)}
        if split.lead:
            summary["lead_left_alone"] = sorted(split.lead)
        if existing is not None:
            summary["found_by_person_id"] = True
        return WriteOutcome(
            write.local_id,
            # found after a lost create answer: that create was ours, this is its insert
            created=existing is not None and write.create_may_have_landed,
            crm_id=contact_id,
            response_summary=summary,
        )

    async def _create(
        self, write: RecordWrite, split: Split, ids: Mapping[str, str]
    ) -> WriteOutcome:
        name = mapping.full_name(split.names.get("first"), split.names.get("last"))
        contact = _contact_fields(split, ids, name)
        contact = {k: v for k, v in contact.items() if v not in (None, "", [])}
        lead = await self.client.create_lead(mapping.lead_payload(split.lead, contact))
        contacts = lead.get("contacts") or []
        if not contacts:
            reason = "Close created the lead without its contact"
            return _failed(write, Resolution(Action.FAIL, reason))
        contact_id = str(contacts[0]["id"])
        return WriteOutcome(
            write.local_id,
            created=True,
            crm_id=contact_id,
            response_summary={"lead_id": lead.get("id"), "contact_id": contact_id},
        )

    async def _contact_update(
        self, contact_id: str, split: Split, ids: Mapping[str, str]
    ) -> dict[str, Any]:
        """The Contact's changed fields; one name part changed means reading the other back."""
        names = split.names
        name: str | None = None
        if names:
            first, last = names.get("first"), names.get("last")
            if len(names) == 1:
                current = await self.client.get_contact(contact_id, ["id", "name"])
                old_first, old_last = mapping.name_parts(current.get("name"))
                first = first if "first" in names else old_first
                last = last if "last" in names else old_last
            name = mapping.full_name(first, last)
        return _contact_fields(split, ids, name)


def _contact_fields(split: Split, ids: Mapping[str, str], name: str | None) -> dict[str, Any]:
    body: dict[str, Any] = dict(split.contact)
    if split.names:
        body["name"] = name
    for field, value in split.custom.items():
        body[f"custom.{_custom_id(field, ids)}"] = None if value == "" else value
    return body


def _custom_id(field: str, ids: Mapping[str, str]) -> str:
    """A custom field given by name (the default mapping) or by its ``cf_…`` id."""
    return ids.get(field) or field


def _unmappable(split: Split, ids: Mapping[str, str]) -> Resolution | None:
    known_ids = set(ids.values())
    missing = [
        f"custom.{field}"
        for field in split.custom
        if field not in ids and not (mapping.CUSTOM_ID.fullmatch(field) and field in known_ids)
    ]
    bad = [*split.unknown, *missing]
    if not bad:
        return None
    reason = f"the mapping names fields Close does not have: {', '.join(sorted(bad))}"
    return Resolution(Action.FAIL, reason, code="unknown_field")


def _held_back(write: RecordWrite, failures: int) -> WriteOutcome:
    """Close looks down: not sent, so no attempt is counted (the engine does not count
    rate-limit waits); each write is one call here, so a batch would take minutes to fail."""
    reason = f"held back: the previous {failures} calls to Close failed"
    return WriteOutcome(
        write.local_id, resolution=Resolution(Action.DEFER, reason, code="held_back")
    )


def _failed(write: RecordWrite, resolution: Resolution) -> WriteOutcome:
    return WriteOutcome(
        write.local_id, resolution=resolution, response_summary={"error": resolution.reason}
    )
