"""HubSpot: people as contacts, created in batches by the Person ID unique property and
updated in place by their HubSpot id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmsync.connectors.base import (
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
from crmsync.errors import InputError, classify
from crmsync.providers.hubspot import changes, mapping, reading, webhooks
from crmsync.providers.hubspot.client import HubSpotClient, item_problem
from crmsync.providers.hubspot.spec import SPEC


class HubSpotConnector(Connector):
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
    conversation_object = "notes"
    connection_options = OWN_APP_OPTIONS

    def __init__(self, ctx: ConnectorContext) -> None:
        super().__init__(ctx)
        self.client = HubSpotClient(ctx.http, ctx.spec, self.rate_budget(), ctx.retry)
        self.id_property = mapping.person_id_property(ctx.app)
        app_id = ctx.settings.get("app_id")
        self.changes = changes.ChangeReader(
            self.client,
            app_id=str(app_id) if app_id else None,
            overlap_seconds=float(
                ctx.settings.get("overlap_seconds") or changes.DEFAULT_OVERLAP_SECONDS
            ),
        )

    @classmethod
    def default_fields(cls, app: AppNames) -> list[FieldSpec]:
        return mapping.default_fields(app)

    async def describe_account(self, token: dict[str, Any]) -> AccountInfo:
        details = await self.client.account_details()
        portal_id = str(details["portalId"])
        return AccountInfo(
            account_id=portal_id,
            label=f"HubSpot portal {portal_id}",
            settings={"ui_domain": details.get("uiDomain"), "time_zone": details.get("timeZone")},
        )

    async def ensure_setup(self) -> SetupReport:
        wanted = mapping.custom_properties(self.ctx.app)
        existing = {p["name"] for p in await self.client.contact_properties()}
        missing = [p for p in wanted if p["name"] not in existing]
        if not missing:
            return SetupReport(ready=True)
        groups = {g["name"] for g in await self.client.property_groups()}
        if self.ctx.app.slug not in groups:
            await self.client.create_group(self.ctx.app.slug, self.ctx.app.label)
        for definition in missing:
            await self.client.create_property(definition)
        return SetupReport(ready=True, created=tuple(p["name"] for p in missing))

    async def list_users(self, emails: Sequence[str]) -> list[CrmUser]:
        return [
            CrmUser(id=str(o["id"]), email=str(o.get("email") or ""), active=not o.get("archived"))
            for o in await self.client.owners()
        ]

    async def read(self, crm_ids: Sequence[str], fields: Sequence[str]) -> list[RemoteRecord]:
        return await reading.read(self.client, crm_ids, fields)

    async def read_changes(self, cursor: str | None, fields: Sequence[str]) -> ChangePage:
        return await self.changes.read(cursor, fields)

    @classmethod
    def webhook_hints(
        cls, request: WebhookRequest, settings: Mapping[str, Any]
    ) -> list[ChangeHint]:
        """A webhook delivery's events as hints, once its v3 signature is checked against
        the app's client secret (``webhooks.SignatureError`` when forged or stale)."""
        webhooks.verify(
            str(settings.get("client_secret") or ""),
            method=request.method,
            uri=request.uri,
            body=request.body,
            headers=request.headers,
            now_ms=request.now_ms,
        )
        app_id = settings.get("app_id")
        try:
            return webhooks.parse(request.body, app_id=str(app_id) if app_id else None)
        except ValueError as exc:
            raise InputError(str(exc)) from exc

    async def describe_fields(self) -> list[FieldDescription]:
        return reading.describe(await self.client.contact_properties())

    async def push(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        """A linked record is updated in place by its HubSpot id (a Person ID a CRM user
        edited, or a survivor of a merge that lacks it, gets it back; never a second contact);
        the rest are upserted by the Person ID. A linked id HubSpot no longer has was
        deleted by a CRM user: skipped, never made again."""
        in_place = [w for w in writes if w.crm_id]
        outcomes = {o.local_id: o for o in await self._update_in_place(in_place)}
        by_key = [w for w in writes if not w.crm_id]
        if by_key:
            outcomes.update((o.local_id, o) for o in await self._upsert(by_key))
        return [outcomes[w.local_id] for w in writes]

    async def push_conversations(self, writes: Sequence[ConversationWrite]) -> list[WriteOutcome]:
        """Each conversation is a note on the contact's timeline (``hs_timestamp`` its time,
        ``hs_note_body`` its heading and body), updated in place once written."""
        return await one_by_one(list(writes), self._write_note)

    async def _write_note(self, write: ConversationWrite) -> WriteOutcome:
        properties = {"hs_timestamp": write.occurred_at, "hs_note_body": note_text(write)}
        if write.crm_id:
            updated = await self.client.update_note(write.crm_id, properties)
            if updated is None:
                resolution = deleted_in_crm(self.spec.display_name)
                return WriteOutcome(write.local_id, resolution=resolution)
            return WriteOutcome(
                write.local_id, crm_id=write.crm_id, response_summary={"id": write.crm_id}
            )
        created = await self.client.create_note(properties, write.contact_crm_id)
        note_id = str(created["id"])
        return WriteOutcome(
            write.local_id, created=True, crm_id=note_id, response_summary={"id": note_id}
        )

    async def _update_in_place(self, writes: list[RecordWrite]) -> list[WriteOutcome]:
        """One outcome per write, in order."""
        if not writes:
            return []
        inputs = [
            {
                "id": w.crm_id,
                "properties": {
                    **mapping.to_properties(w.fields, self.id_property),
                    self.id_property: w.local_id,
                },
            }
            for w in writes
        ]
        body = await self.client.batch_update(inputs)
        landed = {str(r.get("id")): r for r in body.get("results", [])}
        failed: dict[str, Resolution] = {}
        missing: set[str] = set()
        for error in body.get("errors", []):
            ids = {str(i) for i in error.get("context", {}).get("ids", [])}
            if error.get("category") == "OBJECT_NOT_FOUND":
                missing |= ids
                continue
            resolution = classify(item_problem(error), self.spec.error_rules)
            failed.update(dict.fromkeys(ids, resolution))
        outcomes: list[WriteOutcome] = []
        for write in writes:
            crm_id = write.crm_id or ""
            if crm_id in landed:
                summary = {"id": landed[crm_id]["id"], "new": False}
                outcomes.append(
                    WriteOutcome(write.local_id, crm_id=crm_id, response_summary=summary)
                )
            elif crm_id in failed:
                resolution = failed[crm_id]
                outcomes.append(
                    WriteOutcome(
                        write.local_id,
                        resolution=resolution,
                        response_summary={"error": resolution.reason},
                    )
                )
            else:
                resolution = (
                    deleted_in_crm(self.spec.display_name)
                    if crm_id in missing
                    else Resolution(Action.RETRY, "HubSpot did not report this record")
                )
                outcomes.append(
                    WriteOutcome(
                        write.local_id,
                        resolution=resolution,
                        response_summary={"error": resolution.reason},
                    )
                )
        return outcomes

    async def _upsert(self, writes: Sequence[RecordWrite]) -> list[WriteOutcome]:
        inputs = [
            {
                "id": w.local_id,
                "idProperty": self.id_property,
                "properties": mapping.to_properties(w.fields, self.id_property),
            }
            for w in writes
        ]
        body = await self.client.batch_upsert(inputs)
        landed = {
            str(r.get("properties", {}).get(self.id_property)): r for r in body.get("results", [])
        }
        failed: dict[str, Resolution] = {}
        unattributed: list[Resolution] = []
        for error in body.get("errors", []):
            resolution = classify(item_problem(error), self.spec.error_rules)
            ids = [str(i) for i in error.get("context", {}).get("ids", [])]
            for pid in ids:
                failed[pid] = resolution
            if not ids:
                unattributed.append(resolution)
        outcomes: list[WriteOutcome] = []
        unknown: list[RecordWrite] = []
        for write in writes:
            if write.local_id in landed:
                result = landed[write.local_id]
                outcomes.append(
                    WriteOutcome(
                        write.local_id,
                        created=bool(result.get("new")),
                        crm_id=str(result["id"]),
                        response_summary={"id": result["id"], "new": result.get("new")},
                    )
                )
            elif write.local_id in failed:
                resolution = failed[write.local_id]
                outcomes.append(
                    WriteOutcome(
                        write.local_id,
                        resolution=resolution,
                        response_summary={"error": resolution.reason},
                    )
                )
            else:
                unknown.append(write)
                outcomes.append(WriteOutcome(write.local_id))
        if unknown:
            return await self._settle_unknown(writes, outcomes, unknown, unattributed)
        return outcomes

    async def _settle_unknown(
        self,
        writes: Sequence[RecordWrite],
        outcomes: list[WriteOutcome],
        unknown: list[RecordWrite],
        unattributed: list[Resolution],
    ) -> list[WriteOutcome]:
        """Errors HubSpot did not tie to an input: write those records one at a time."""
        if len(writes) == 1:
            resolution = (
                unattributed[0]
                if unattributed
                else Resolution(Action.RETRY, "HubSpot did not report this record")
            )
            return [WriteOutcome(writes[0].local_id, resolution=resolution)]
        redone = {w.local_id: (await self._upsert([w]))[0] for w in unknown}
        return [redone.get(o.local_id, o) for o in outcomes]
