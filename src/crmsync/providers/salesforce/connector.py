"""Salesforce: people as Leads, created by the Person ID external ID and updated in place by
their id, on the org's instance.

Live unlocks and small batches use the sObject Collections upsert (200 per call); backfills
of 10,000 or more go through a Bulk API 2.0 job (``bulk.py``). Converted leads are followed
to their Contact (``converted.py``); the daily API allocation is respected (``allocation.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from crmsync.connectors.base import (
    AccountInfo,
    AppNames,
    Connector,
    ConnectorContext,
    CrmUser,
    SetupReport,
)
from crmsync.connectors.conversations import one_by_one
from crmsync.connectors.spec import FieldSpec
from crmsync.domain.outcomes import Action, Resolution, deleted_in_crm
from crmsync.domain.records import Capability, ChangePage, FieldDescription, RemoteRecord
from crmsync.domain.writes import ConversationWrite, RecordWrite, WriteOutcome
from crmsync.errors import InputError, classify
from crmsync.providers.salesforce import mapping, reading, spec
from crmsync.providers.salesforce.allocation import (
    DEFAULT_PROBE,
    DEFAULT_SHARE,
    DEFAULT_WINDOW,
    Allocation,
)
from crmsync.providers.salesforce.bulk import BulkUpsert
from crmsync.providers.salesforce.client import SalesforceClient, item_problem, soql_string
from crmsync.providers.salesforce.converted import CONVERTED, ConvertedLeads, is_contact
from crmsync.providers.salesforce.spec import OPTIONS

UNREPORTED = Resolution(Action.RETRY, "Salesforce returned no result for this record")
USER_PREFIX = "005"
"""The key prefix of a User id (a lead's owner may also be a Queue, ``00G``)."""
GONE = frozenset({"ENTITY_IS_DELETED", "NOT_FOUND"})
"""Codes of an update whose lead Salesforce no longer has (a CRM user deleted it)."""


def _error_code(result: dict[str, Any]) -> str | None:
    errors = result.get("errors")
    if result.get("success") or not isinstance(errors, list) or not errors:
        return None
    return str(errors[0].get("statusCode") or "") or None


EMAILS_PER_QUERY = 200
"""Keeps each SOQL statement far below Salesforce's 100,000-character limit."""


class SalesforceConnector(Connector):
    spec = spec.SPEC
    capabilities = frozenset(
        {
            Capability.WRITE,
            Capability.READ,
            Capability.READ_CHANGES,
            Capability.DESCRIBE_FIELDS,
            Capability.CONVERSATIONS,
        }
    )
    connection_options = OPTIONS

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.conversation_object = mapping.conversation_object(ctx.app)
        self.conversation_id = mapping.conversation_id_field(ctx.app)
        settings = ctx.settings
        owner = ctx.account_id or id(self)
        self.allocation = ctx.allocations.for_account(f"salesforce:{owner}", Allocation)
        self.allocation.configure(
            float(settings.get("api_usage_share", DEFAULT_SHARE)),
            float(settings.get("api_window_seconds", DEFAULT_WINDOW)),
            float(settings.get("api_pause_probe_seconds", DEFAULT_PROBE)),
        )
        self.client = SalesforceClient(
            ctx.http,
            ctx.spec,
            self.rate_budget(),
            self.allocation,
            str(settings.get("instance_url") or ctx.spec.api_base),
            ctx.retry,
        )
        self.id_field = mapping.person_id_field(ctx.app)
        skip = settings.get("converted_leads") == "skip"
        self.converted = ConvertedLeads(self.client, ctx.spec, self.id_field, skip)

    @classmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        return mapping.default_fields(app)

    @classmethod
    def validate_settings(cls, settings: dict[str, Any]) -> dict[str, Any]:
        """``converted_leads``: update (their Contact) or skip; ``api_usage_share``: the share
        of the daily allocation crmsync may use (0.1 to 1)."""
        unknown = sorted(set(settings) - {"converted_leads", "api_usage_share"})
        if unknown:
            raise InputError(f"unknown Salesforce setting {unknown[0]!r}")
        clean: dict[str, Any] = {}
        if "converted_leads" in settings:
            if settings["converted_leads"] not in ("update", "skip"):
                raise InputError("converted_leads must be 'update' or 'skip'")
            clean["converted_leads"] = settings["converted_leads"]
        if "api_usage_share" in settings:
            share = settings["api_usage_share"]
            if not isinstance(share, int | float) or not 0.1 <= float(share) <= 1.0:
                raise InputError("api_usage_share must be a number from 0.1 to 1")
            clean["api_usage_share"] = float(share)
        return clean

    @classmethod
    def oauth_overrides(cls, options: dict[str, str]) -> dict[str, Any]:
        return {**super().oauth_overrides(options), **spec.login_host_overrides(options)}

    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        """The org id is in the token's identity URL (``.../id/<org>/<user>``): no call."""
        _, org_id, user_id = urlsplit(str(token["id"])).path.rstrip("/").rsplit("/", 2)
        instance_url = str(token["instance_url"]).rstrip("/")
        return AccountInfo(
            account_id=org_id,
            label=f"{urlsplit(instance_url).hostname} (org {org_id})",
            settings={
                "instance_url": instance_url,
                "user_id": user_id,
                "converted_leads": "update",
                "api_usage_share": DEFAULT_SHARE,
                "api_window_seconds": DEFAULT_WINDOW,
            },
        )

    async def ensure_setup(self) -> SetupReport:
        """Both custom Lead fields must exist: the managed package brings them, or crmsync
        creates them through the Tooling API once the org's admin allows it."""
        wanted = mapping.custom_fields(self.ctx.app)
        existing = {str(f["name"]) for f in await self.client.describe_fields("Lead")}
        missing = [d for d in wanted if d["FullName"].split(".", 1)[1] not in existing]
        if not missing:
            return SetupReport(ready=True)
        names = tuple(d["FullName"] for d in missing)
        if not self.ctx.settings.get("create_missing_fields"):
            link = self.ctx.settings.get("package_install_url") or spec.PACKAGE_INSTALL_URL
            return SetupReport(
                ready=False,
                missing=names,
                message=(
                    f"Salesforce is missing the Lead fields {', '.join(names)}. Install the "
                    f"{self.ctx.app.label} managed package ({link}), or allow crmsync to "
                    "create the fields through the Tooling API."
                ),
            )
        created = [d["FullName"] for d in missing if await self.client.create_custom_field(d)]
        return SetupReport(
            ready=True,
            created=tuple(created),
            message=(
                "crmsync created the fields; grant your integration user field-level access "
                "to them if it does not have it"
            ),
        )

    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        """Active standard users with the organisation's emails (the engine caches them)."""
        users: list[CrmUser] = []
        wanted = sorted({e.lower() for e in emails if e})
        for start in range(0, len(wanted), EMAILS_PER_QUERY):
            quoted = ", ".join(soql_string(e) for e in wanted[start : start + EMAILS_PER_QUERY])
            rows = await self.client.query(
                "SELECT Id, Email, IsActive FROM User WHERE IsActive = true "
                f"AND UserType = 'Standard' AND Email IN ({quoted})"
            )
            users += [
                CrmUser(
                    id=str(r["Id"]), email=str(r.get("Email") or ""), active=bool(r["IsActive"])
                )
                for r in rows
            ]
        return users

    async def users_by_id(self, crm_ids: Sequence[str]) -> list[CrmUser]:
        """Users (and the queues a lead can be owned by have no email: left out) by id."""
        users: list[CrmUser] = []
        wanted = sorted({i for i in crm_ids if i.startswith(USER_PREFIX)})
        for start in range(0, len(wanted), EMAILS_PER_QUERY):
            quoted = ", ".join(soql_string(i) for i in wanted[start : start + EMAILS_PER_QUERY])
            rows = await self.client.query(
                f"SELECT Id, Email, IsActive FROM User WHERE Id IN ({quoted})"
            )
            users += [
                CrmUser(
                    id=str(r["Id"]), email=str(r.get("Email") or ""), active=bool(r["IsActive"])
                )
                for r in rows
            ]
        return users

    async def read(self, crm_ids: Sequence[str], fields: Sequence[str]) -> list[RemoteRecord]:
        """Leads by id; the Contacts converted leads became by theirs."""
        leads = [i for i in crm_ids if not is_contact(i)]
        contacts = [i for i in crm_ids if is_contact(i)]
        found = await reading.read(self.client, self.spec.crm_object, leads, fields)
        if contacts:
            known = await self.converted.contact_fields()
            found += await reading.read_contacts(self.client, contacts, fields, known)
        return found

    async def read_changes(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        """Each change's ``origin`` is its ``LastModifiedById``: the engine tells its own
        writes (echoes) by :attr:`integration_user_id`."""
        return await reading.read_changes(self.client, self.spec.crm_object, cursor, fields)

    @property
    def integration_user_id(self) -> str | None:
        """The user crmsync's connection writes as: the one who authorised it, whose id
        ends the token's identity URL (``describe_account`` keeps it as ``user_id``)."""
        user_id = self.ctx.settings.get("user_id")
        return str(user_id) if user_id else None

    async def describe_fields(self) -> list[FieldDescription]:
        return reading.describe(await self.client.describe_fields(self.spec.crm_object))

    async def push_conversations(self, writes: Sequence[ConversationWrite]) -> list[WriteOutcome]:
        """Each conversation is a record of the package's ``<App>_Conversation__c`` object,
        looking up the Lead (or its converted Contact): upserted by the app's conversation id
        (its external ID, so a lost answer never makes a second one), then updated by id."""
        return await one_by_one(list(writes), self._write_conversation)

    async def _write_conversation(self, write: ConversationWrite) -> WriteOutcome:
        values = mapping.conversation_values(write)
        if write.crm_id:
            if not await self.client.update_one(self.conversation_object, write.crm_id, values):
                return WriteOutcome(write.local_id, resolution=deleted_in_crm("Salesforce"))
            return WriteOutcome(write.local_id, crm_id=write.crm_id)
        result = await self.client.upsert_one(
            self.conversation_object, self.conversation_id, write.local_id, values
        )
        return WriteOutcome(
            write.local_id,
            created=bool(result.get("created")),
            crm_id=str(result["id"]),
            response_summary={"id": result["id"], "created": result.get("created")},
        )

    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """A linked lead is updated in place by its id (a Person ID a CRM user edited, or a
        merge's master that lacks it, gets it back: never a second lead); the rest are
        upserted by the Person ID external ID. A linked lead a CRM user deleted is skipped,
        never made again."""
        outcomes = await self.converted.update_contacts(
            [(w, str(w.crm_id)) for w in writes if is_contact(w.crm_id)]
        )
        linked = [w for w in writes if w.crm_id and not is_contact(w.crm_id)]
        results: list[tuple[RecordWrite, dict[str, Any]]] = []
        if linked:
            records = [{"id": w.crm_id, **mapping.lead_values(w, self.id_field)} for w in linked]
            results += zip(linked, await self.client.update("Lead", records), strict=False)
        by_key = [w for w in writes if not w.crm_id]
        if by_key:
            records = [mapping.lead_values(w, self.id_field) for w in by_key]
            upserted = await self.client.upsert("Lead", self.id_field, records)
            results += zip(by_key, upserted, strict=False)
        converted: list[RecordWrite] = []
        for write, result in results:
            if _error_code(result) in GONE:
                gone = deleted_in_crm(self.spec.display_name)
                outcomes[write.local_id] = WriteOutcome(
                    write.local_id, resolution=gone, response_summary={"error": gone.reason}
                )
                continue
            outcome = self.lead_outcome(write, result)
            if outcome.resolution is not None and outcome.resolution.code == CONVERTED:
                converted.append(write)
            else:
                outcomes[write.local_id] = outcome
        if converted:
            outcomes.update(await self.converted.follow(converted))
        return [
            outcomes.get(w.local_id) or WriteOutcome(w.local_id, resolution=UNREPORTED)
            for w in writes
        ]

    def lead_outcome(self, write: RecordWrite, result: dict[str, Any]) -> WriteOutcome:
        if result.get("success"):
            summary = {"id": result.get("id"), "created": result.get("created")}
            return WriteOutcome(
                write.local_id,
                created=bool(result.get("created")),
                crm_id=str(result["id"]),
                response_summary=summary,
            )
        errors = result.get("errors") or [{}]
        resolution = classify(item_problem(errors[0]), self.ctx.spec.error_rules)
        return WriteOutcome(
            write.local_id, resolution=resolution, response_summary={"error": resolution.reason}
        )

    async def push_bulk(
        self, writes: Sequence[RecordWrite], heartbeat: Callable[[], Awaitable[None]]
    ) -> list[WriteOutcome]:
        return await BulkUpsert(self, heartbeat).run(writes)

    def stored_value(self, crm_field: str, value: Any) -> Any:
        return mapping.stored_value(crm_field, value)

    def record_url(self, crm_id: str) -> str | None:
        instance = self.ctx.settings.get("instance_url")
        if not instance:
            return None
        sobject = "Contact" if is_contact(crm_id) else "Lead"
        return f"{instance}/lightning/r/{sobject}/{crm_id}/view"
