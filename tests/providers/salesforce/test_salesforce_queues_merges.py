"""Queues and merges in the Salesforce emulator, through simple-salesforce with only the
instance URL changed: a Lead owned by a queue that takes leads, and Account/Contact merges that
leave the losers in the recycle bin (``MasterRecordId``, ``queryAll``) and move their children."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce

from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
)
from crmsync.providers.salesforce.emulator.harness import SalesforceHarness
from crmsync.providers.salesforce.emulator.harness_sales import SalesRecords
from tests.providers.salesforce.sales_org import refused

AT = "2026-05-06T09:00:00.000+0000"


def lead(**fields: Any) -> dict[str, Any]:
    return {"LastName": "Babbage", "Company": "Difference", **fields}


# Queues ------------------------------------------------------------------------------------


def test_queues_and_what_they_take_are_queryable(sf: Salesforce, seed: SalesRecords) -> None:
    leads = seed.queue("Inbound Leads", ("Lead",))
    seed.queue("Support", ("Case",))
    queues = sf.query(
        "SELECT Id, Name, DeveloperName FROM Group WHERE Type = 'Queue' ORDER BY Name"
    )
    assert [(r["Name"], r["DeveloperName"]) for r in queues["records"]] == [
        ("Inbound Leads", "Inbound_Leads"),
        ("Support", "Support"),
    ]
    takes = sf.query("SELECT QueueId, Queue.Name FROM QueueSobject WHERE SobjectType = 'Lead'")
    assert [(r["QueueId"], r["Queue"]["Name"]) for r in takes["records"]] == [
        (leads, "Inbound Leads")
    ]


def test_a_lead_may_be_owned_by_a_queue_that_takes_leads(
    sf: Salesforce, seed: SalesRecords
) -> None:
    queue = seed.queue("Inbound Leads", ("Lead",))
    created = sf.Lead.create(lead(OwnerId=queue))["id"]
    assert seed.read(created)["OwnerId"] == queue
    owned = sf.query(f"SELECT Id FROM Lead WHERE OwnerId = '{queue}'")
    assert [r["Id"] for r in owned["records"]] == [created]


def test_an_assignment_rule_routes_new_leads_to_a_queue(sf: Salesforce, seed: SalesRecords) -> None:
    queue = seed.queue("Inbound Leads", ("Lead",))
    seed.assign_leads_to(queue)
    created = sf.Lead.create(lead(), headers={"Sforce-Auto-Assign": "TRUE"})["id"]
    assert seed.read(created)["OwnerId"] == queue
    support = seed.queue("Support", ("Case",))
    with pytest.raises(ValueError):
        seed.assign_leads_to(support)


def test_a_queued_lead_converts_to_records_the_converting_user_owns(
    sf: Salesforce, emulator: SalesforceEmulator, seed: SalesRecords
) -> None:
    queue = seed.queue("Inbound Leads", ("Lead",))
    created = sf.Lead.create(lead(OwnerId=queue))["id"]
    converted = emulator.convert_lead(created, opportunity=True)
    for key in ("ConvertedAccountId", "ConvertedContactId", "ConvertedOpportunityId"):
        assert seed.read(converted[key])["OwnerId"] == emulator.crm_user(), key


def test_a_queue_that_does_not_take_leads_cannot_own_one(
    sf: Salesforce, seed: SalesRecords
) -> None:
    support = seed.queue("Support", ("Case",))
    errors = refused(sf.Lead.create, lead(OwnerId=support))
    assert errors == [
        {
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "message": f"Owner ID: id value of incorrect type: {support}",
            "fields": ["OwnerId"],
        }
    ]
    assert seed.rows("Lead") == []
    existing = sf.Lead.create(lead())["id"]
    errors = refused(sf.Lead.update, existing, {"OwnerId": support})
    assert errors[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_an_account_cannot_be_owned_by_a_queue(sf: Salesforce, seed: SalesRecords) -> None:
    queue = seed.queue("Inbound Leads", ("Lead",))
    errors = refused(sf.Account.create, {"Name": "Analytical", "OwnerId": queue})
    assert (errors[0]["errorCode"], errors[0]["fields"]) == (
        "FIELD_INTEGRITY_EXCEPTION",
        ["OwnerId"],
    )


def test_a_queue_created_through_the_api_can_own_leads(sf: Salesforce, seed: SalesRecords) -> None:
    queue = sf.Group.create({"Name": "Web Leads", "Type": "Queue"})["id"]
    assert seed.read_setup("Group", queue)["DeveloperName"] == "Web_Leads"
    errors = refused(sf.Lead.create, lead(OwnerId=queue))  # it takes nothing yet
    assert errors[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    sf.QueueSobject.create({"QueueId": queue, "SobjectType": "Lead"})
    assert seed.read(sf.Lead.create(lead(OwnerId=queue))["id"])["OwnerId"] == queue
    twice = refused(sf.QueueSobject.create, {"QueueId": queue, "SobjectType": "Lead"})
    assert (twice[0]["errorCode"], twice[0]["fields"]) == ("DUPLICATE_VALUE", ["SobjectType"])


def test_only_a_queue_takes_records_and_only_the_objects_queues_take(
    sf: Salesforce, seed: SalesRecords
) -> None:
    team = sf.Group.create({"Name": "Team"})["id"]
    assert seed.read_setup("Group", team)["Type"] == "Regular"
    errors = refused(sf.QueueSobject.create, {"QueueId": team, "SobjectType": "Lead"})
    assert (errors[0]["errorCode"], errors[0]["fields"]) == (
        "FIELD_INTEGRITY_EXCEPTION",
        ["QueueId"],
    )
    queue = seed.queue("Inbound Leads", ("Lead",))
    errors = refused(sf.QueueSobject.create, {"QueueId": queue, "SobjectType": "Account"})
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert len(seed.rows("QueueSobject")) == 1


def test_setup_objects_cannot_be_written_through_the_api(sf: Salesforce) -> None:
    errors = refused(sf.OpportunityStage.create, {"MasterLabel": "Haggling"})
    assert errors[0]["errorCode"] == "INVALID_TYPE_FOR_OPERATION"


def test_an_unknown_field_in_a_filter_is_refused(sf: Salesforce) -> None:
    errors = refused(sf.query, "SELECT Id FROM QueueSobject WHERE Color = 'red'")
    assert errors[0]["errorCode"] == "INVALID_FIELD"


# Merges ------------------------------------------------------------------------------------


def test_an_account_merge_moves_contacts_deals_and_activities_to_the_master(
    sf: Salesforce, seed: SalesRecords
) -> None:
    master = seed.account("Analytical Engines")
    loser = seed.account("Analytical Engines Ltd")
    contact = seed.contact("Lovelace", loser)
    deal = seed.opportunity("Engine", "Prospecting", "2026-06-30", loser)
    task = seed.task("Call", WhatId=loser)
    event = seed.event("Visit", AT, 60, WhatId=loser, WhoId=contact)
    seed.merge_by_hand(master, loser)
    assert seed.read(contact)["AccountId"] == master
    assert seed.read(deal)["AccountId"] == master
    assert seed.read(task)["WhatId"] == master
    assert seed.read(event)["WhatId"] == master
    live = sf.query("SELECT Id FROM Account")
    assert [r["Id"] for r in live["records"]] == [master]
    everything = sf.query_all(
        "SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE IsDeleted = true",
        include_deleted=True,
    )
    assert [(r["Id"], r["IsDeleted"], r["MasterRecordId"]) for r in everything["records"]] == [
        (loser, True, master)
    ]


def test_a_contact_merge_moves_activities_and_deals_to_the_master(
    sf: Salesforce, seed: SalesRecords
) -> None:
    account = seed.account("Analytical Engines")
    master = seed.contact("Lovelace", account)
    first, second = seed.contact("Lovelace", account), seed.contact("King", account)
    task = seed.task("Call", WhoId=first)
    event = seed.event("Visit", AT, 30, WhoId=second, WhatId=account)
    deal = seed.opportunity("Engine", "Prospecting", "2026-06-30", account, ContactId=second)
    seed.merge_by_hand(master, first, second)
    assert (seed.read(task)["WhoId"], seed.read(event)["WhoId"]) == (master, master)
    assert seed.read(deal)["ContactId"] == master
    losers = sf.query_all(
        "SELECT Id, MasterRecordId FROM Contact WHERE IsDeleted = true", include_deleted=True
    )
    assert sorted((r["Id"], r["MasterRecordId"]) for r in losers["records"]) == sorted(
        [(first, master), (second, master)]
    )
    assert seed.deleted(first) is not None and seed.deleted(master) is None


def test_the_conformance_harness_merges_accounts_too() -> None:
    harness = SalesforceHarness()
    master = harness.sales.account("Analytical Engines")
    loser = harness.sales.account("Analytical")
    contact = harness.sales.contact("Lovelace", loser)
    harness.merge_by_hand(master, loser)
    assert harness.sales.read(contact)["AccountId"] == master
    gone = harness.sales.deleted(loser)
    assert gone is not None and gone["MasterRecordId"] == master
