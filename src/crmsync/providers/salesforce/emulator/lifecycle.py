"""What users do to records besides editing them: convert a lead, merge up to three records,
and the recycle bin's retention (physically deleted 15 days after the delete, by default).

Salesforce merges through SOAP or Apex only, and converts through the UI or ``convertLead``;
the emulator offers both as harness controls, done "as a CRM user".
"""

from __future__ import annotations

from datetime import date, timedelta

from crmsync.providers.salesforce.emulator.errors import ItemError, RecordFailure, SalesforceError
from crmsync.providers.salesforce.emulator.ids import KEY_PREFIXES
from crmsync.providers.salesforce.emulator.store import (
    CONVERTED_MESSAGE,
    OrgStore,
    Row,
    WriteContext,
)

MERGEABLE = ("Lead", "Contact", "Account")
MAX_MERGED = 2
"""A merge keeps one master and folds at most two other records into it."""
CHILD_LOOKUPS = (
    ("Task", "WhoId"),
    ("Task", "WhatId"),
    ("Event", "WhoId"),
    ("Event", "WhatId"),
    ("Contact", "AccountId"),
    ("Opportunity", "AccountId"),
    ("Opportunity", "ContactId"),
)
"""Children re-parented to the master when their parent is merged away."""


def convert_lead(store: OrgStore, lead_id: str, ctx: WriteContext, opportunity: bool) -> Row:
    """Convert a lead as a user would: an Account, a Contact and optionally an Opportunity."""
    with store.lock:
        lead = store.get("Lead", lead_id)
        if lead.get("IsConverted"):
            raise RecordFailure([ItemError("CANNOT_UPDATE_CONVERTED_LEAD", CONVERTED_MESSAGE)])
        owner = lead["OwnerId"]
        if not str(owner).startswith(KEY_PREFIXES["User"]):
            owner = ctx.user_id  # a queue owns no Account or Contact: the converting user does
        user = WriteContext(ctx.user_id, allow_save=True, manual=True)
        account = store.create("Account", {"Name": lead.get("Company"), "OwnerId": owner}, user)
        contact_fields = store.objects["Contact"]
        moved = {
            "FirstName": lead.get("FirstName"),
            "LastName": lead.get("LastName"),
            "Email": lead.get("Email"),
            "Phone": lead.get("Phone"),
            "Title": lead.get("Title"),
            "MailingCity": lead.get("City"),
            "MailingState": lead.get("State"),
            "MailingPostalCode": lead.get("PostalCode"),
            "MailingCountry": lead.get("Country"),
            "AccountId": account["Id"],
            "OwnerId": owner,
            **{
                name: value
                for name, value in lead.items()
                if name.endswith("__c") and contact_fields.field(name) is not None
            },
        }
        contact = store.create("Contact", moved, user)
        converted: Row = {
            "IsConverted": True,
            "Status": "Closed - Converted",
            "ConvertedDate": date.fromtimestamp(store.clock()).isoformat(),
            "ConvertedAccountId": account["Id"],
            "ConvertedContactId": contact["Id"],
        }
        if opportunity:
            close = date.fromtimestamp(store.clock()) + timedelta(days=30)
            deal = {
                "Name": f"{lead.get('Company')}-",
                "StageName": "Prospecting",
                "CloseDate": close.isoformat(),
                "AccountId": account["Id"],
                "OwnerId": owner,
            }
            converted["ConvertedOpportunityId"] = store.create("Opportunity", deal, user)["Id"]
        return store.update("Lead", lead["Id"], converted, user)


def merge(store: OrgStore, sobject: str, master_id: str, merged: list[str], user_id: str) -> Row:
    """Fold one or two records into the master: each goes to the recycle bin with
    ``MasterRecordId`` set, their children move to the master, and the master's stamps move."""
    with store.lock:
        obj = store.sobject(sobject)
        if obj.name not in MERGEABLE:
            raise SalesforceError(
                400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be merged: {obj.name}"
            )
        if not 1 <= len(merged) <= MAX_MERGED:
            raise SalesforceError(
                400, "INVALID_ARGUMENT_VALUE", "A merge takes one master and one or two records"
            )
        master = store.get(obj.name, master_id)
        losers = [store.get(obj.name, record_id) for record_id in merged]
        if len({master["Id"], *(r["Id"] for r in losers)}) != len(losers) + 1:
            raise SalesforceError(
                400, "INVALID_ARGUMENT_VALUE", "The master and the merged records must differ"
            )
        if any(row.get("IsConverted") for row in [master, *losers]):
            raise RecordFailure([ItemError("CANNOT_UPDATE_CONVERTED_LEAD", CONVERTED_MESSAGE)])
        user = WriteContext(user_id, manual=True)
        gone = {row["Id"] for row in losers}
        for child, lookup in CHILD_LOOKUPS:
            for row in store.snapshot(child):
                if row.get(lookup) in gone:
                    store.update(child, row["Id"], {lookup: master["Id"]}, user)
        for row in losers:
            store.delete(obj.name, row["Id"], user_id, master_id=master["Id"])
        return store.update(obj.name, master["Id"], {}, user)


def purge(store: OrgStore, retention_seconds: float, everything: bool = False) -> int:
    """Physically delete what has been in the recycle bin longer than the retention (or all
    of it: an admin emptying the bin); returns how many records went."""
    with store.lock:
        now = store.clock()
        count = 0
        for name, log in store.deleted.items():
            kept: list[tuple[str, float]] = []
            for record_id, when in log:
                if everything or when <= now - retention_seconds:
                    store.recycled[name].pop(record_id, None)
                    store.purged[name] = max(store.purged.get(name, when), when)
                    count += 1
                else:
                    kept.append((record_id, when))
            store.deleted[name] = kept
        return count


def earliest_available(store: OrgStore, sobject: str, began: float) -> float:
    """``earliestDateAvailable``: when the last physically deleted record had been deleted
    (the org's start when none has been), to the minute."""
    moment = max(began, store.purged.get(sobject, began))
    return moment - moment % 60
