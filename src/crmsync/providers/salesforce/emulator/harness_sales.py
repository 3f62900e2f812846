"""The conformance suite's hands on the sales objects: seed and read Accounts, Contacts,
Opportunities, Tasks and Events, set up stages, record types and queues, and merge, all with
Salesforce's own field names (``AccountId``, ``StageName``, ``WhoId``...) written out here, never
taken from crmsync's mapping.
"""

from __future__ import annotations

from typing import Any

from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.state import SalesforceEmulator
from crmsync.providers.salesforce.emulator.store import Row, WriteContext

SALES_OBJECTS = ("Account", "Contact", "Opportunity", "Task", "Event", "Lead")


def sobject_of(record_id: str) -> str:
    """The sObject an id names, by its key prefix."""
    for name in SALES_OBJECTS:
        if record_id.startswith(KEY_PREFIXES[name]):
            return name
    raise ValueError(f"not the id of a sales record: {record_id}")


class SalesRecords:
    """Seeds go through the org's rules as a CRM user's API write would (not as crmsync's
    connection user): a seed the real org would refuse is refused here too."""

    def __init__(self, emulator: SalesforceEmulator) -> None:
        self.emulator = emulator

    def _user(self) -> WriteContext:
        return WriteContext(self.emulator.crm_user())

    def seed(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create one record from Salesforce field names; returns its id."""
        return str(self.emulator.store.create(sobject, fields, self._user())["Id"])

    def account(self, name: str, **fields: Any) -> str:
        return self.seed("Account", {"Name": name, **fields})

    def contact(self, last_name: str, account_id: str | None = None, **fields: Any) -> str:
        return self.seed("Contact", {"LastName": last_name, "AccountId": account_id, **fields})

    def opportunity(
        self, name: str, stage: str, close_date: str, account_id: str | None = None, **fields: Any
    ) -> str:
        values = {"Name": name, "StageName": stage, "CloseDate": close_date}
        return self.seed("Opportunity", {**values, "AccountId": account_id, **fields})

    def event(self, subject: str, start: str, minutes: int, **fields: Any) -> str:
        values = {"Subject": subject, "StartDateTime": start, "DurationInMinutes": minutes}
        return self.seed("Event", {**values, **fields})

    def task(self, subject: str, **fields: Any) -> str:
        return self.seed("Task", {"Subject": subject, **fields})

    def read(self, record_id: str) -> Row:
        """The live record (Salesforce's field names), whatever its sObject."""
        return self.emulator.store.get(sobject_of(record_id), record_id)

    def read_setup(self, sobject: str, record_id: str) -> Row:
        """A setup record (``Group``, ``QueueSobject``, ``RecordType``...) by id."""
        return self.emulator.store.get(sobject, record_id)

    def deleted(self, record_id: str) -> Row | None:
        """The record in the recycle bin (a merge's loser, with ``MasterRecordId``), if there."""
        with self.emulator.store.lock:
            row = self.emulator.store.recycled[sobject_of(record_id)].get(record_id)
            return dict(row) if row is not None else None

    def rows(self, sobject: str) -> list[Row]:
        return self.emulator.records(sobject)

    def children(self, sobject: str, lookup: str, parent_id: str) -> list[str]:
        """Ids of the live ``sobject`` records whose ``lookup`` names ``parent_id``."""
        return sorted(r["Id"] for r in self.rows(sobject) if r.get(lookup) == parent_id)

    def merge_by_hand(self, survivor: str, *merged: str) -> Row:
        """A CRM user merges one or two Accounts, Contacts or Leads into ``survivor``."""
        return self.emulator.merge(sobject_of(survivor), survivor, list(merged))

    def record_type(self, name: str, stages: tuple[str, ...], active: bool = True) -> str:
        return self.emulator.add_record_type(name, stages, active)

    def queue(self, name: str, sobjects: tuple[str, ...]) -> str:
        return self.emulator.add_queue(name, sobjects)

    def assign_leads_to(self, owner_id: str) -> str:
        """An active lead assignment rule sending every lead to a user or a lead queue."""
        return self.emulator.set_assignment_rule(owner_id)
