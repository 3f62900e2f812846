"""Converted leads: Salesforce refuses every update to them (``CANNOT_UPDATE_CONVERTED_LEAD``).

crmsync follows the lead's ``ConvertedContactId`` and updates that Contact instead (the same
values under Contact's field names, where Contact has the field), or, when the connection's
``converted_leads`` setting is ``skip``, logs the person skipped. It never creates a new Lead.
Once followed, the person's CRM id is the Contact's, so later writes go straight to it; the
outcome says the record moved, and the lead's id stays the link's alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from crmsync.connectors.spec import ProviderSpec
from crmsync.domain.enums import AliasReason
from crmsync.domain.outcomes import Action, Resolution
from crmsync.domain.writes import Moved, RecordWrite, WriteOutcome
from crmsync.errors import classify
from crmsync.providers.salesforce import mapping
from crmsync.providers.salesforce.client import SalesforceClient, item_problem, quote

CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"
CONTACT_PREFIX = "003"
SKIP_REASON = (
    "the person's lead was converted in Salesforce and this connection skips converted leads "
    "(set converted_leads to 'update' to update the contact instead)"
)
CHUNK = 200


def is_contact(crm_id: str | None) -> bool:
    return bool(crm_id) and str(crm_id).startswith(CONTACT_PREFIX)


class ConvertedLeads:
    def __init__(
        self, client: SalesforceClient, spec: ProviderSpec, id_field: str, skip: bool
    ) -> None:
        self.client = client
        self.spec = spec
        self.id_field = id_field
        self.skip = skip
        self._contact_fields: set[str] | None = None

    async def follow(self, writes: Sequence[RecordWrite]) -> dict[str, WriteOutcome]:
        """Writes Salesforce refused because their lead is converted."""
        if self.skip:
            return {w.local_id: self._skipped(w) for w in writes}
        converted = await self._converted([w.local_id for w in writes])
        outcomes: dict[str, WriteOutcome] = {}
        found: list[tuple[RecordWrite, str]] = []
        for write in writes:
            lead_id, contact_id = converted.get(write.local_id, ("", ""))
            if contact_id:
                found.append((write, contact_id))
            else:
                reason = "the lead was converted but Salesforce names no contact for it"
                resolution = Resolution(Action.FAIL, reason, code=CONVERTED)
                outcomes[write.local_id] = WriteOutcome(write.local_id, resolution=resolution)
        for local_id, outcome in (await self.update_contacts(found)).items():
            lead_id = converted[local_id][0]
            if outcome.ok and lead_id:
                moved = Moved("Contact", "Lead", lead_id, AliasReason.CONVERTED)
                outcome = replace(outcome, moved=moved)
            outcomes[local_id] = outcome
        return outcomes

    async def update_contacts(
        self, pairs: Sequence[tuple[RecordWrite, str]]
    ) -> dict[str, WriteOutcome]:
        """Write each person's values to the Contact their lead became."""
        if self.skip:
            return {w.local_id: self._skipped(w) for w, _ in pairs}
        fields = await self._fields() if pairs else set()
        outcomes: dict[str, WriteOutcome] = {}
        sending: list[tuple[RecordWrite, str, dict[str, object]]] = []
        for write, contact_id in pairs:
            values = mapping.contact_values(write, fields)
            if values:
                sending.append((write, contact_id, {"id": contact_id, **values}))
            else:
                summary = {"id": contact_id, "converted": True, "sent": "nothing Contact has"}
                outcomes[write.local_id] = WriteOutcome(
                    write.local_id, crm_id=contact_id, response_summary=summary
                )
        for start in range(0, len(sending), CHUNK):
            chunk = sending[start : start + CHUNK]
            results = await self.client.update("Contact", [record for *_, record in chunk])
            for (write, contact_id, _), result in zip(chunk, results, strict=False):
                outcomes[write.local_id] = self._outcome(write, contact_id, result)
        return outcomes

    def _outcome(
        self, write: RecordWrite, contact_id: str, result: dict[str, object]
    ) -> WriteOutcome:
        if result.get("success"):
            summary = {"id": contact_id, "converted": True}
            return WriteOutcome(write.local_id, crm_id=contact_id, response_summary=summary)
        errors = result.get("errors")
        error = errors[0] if isinstance(errors, list) and errors else {}
        resolution = classify(item_problem(error), self.spec.error_rules)
        return WriteOutcome(
            write.local_id, resolution=resolution, response_summary={"error": resolution.reason}
        )

    def _skipped(self, write: RecordWrite) -> WriteOutcome:
        resolution = Resolution(Action.SKIP, SKIP_REASON, code=CONVERTED)
        return WriteOutcome(write.local_id, resolution=resolution)

    async def _converted(self, person_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Person ID → (the converted lead's id, its contact's id)."""
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(person_ids), CHUNK):
            values = ", ".join(quote(p) for p in person_ids[start : start + CHUNK])
            rows = await self.client.query(
                f"SELECT Id, {self.id_field}, ConvertedContactId FROM Lead "
                f"WHERE IsConverted = true AND {self.id_field} IN ({values})"
            )
            for row in rows:
                if row.get("ConvertedContactId"):
                    lead_id = str(row.get("Id") or "")
                    found[str(row[self.id_field])] = (lead_id, str(row["ConvertedContactId"]))
        return found

    async def contact_fields(self) -> set[str]:
        """The Contact fields crmsync can write (described once per connector)."""
        return await self._fields()

    async def _fields(self) -> set[str]:
        if self._contact_fields is None:
            described = await self.client.describe_fields("Contact")
            self._contact_fields = {str(f["name"]) for f in described if f.get("updateable")}
        return self._contact_fields
