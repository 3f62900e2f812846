"""Opportunities with stages and record types, Account/Contact references, custom fields on the
sales objects, queues and merges in the Salesforce emulator, through simple-salesforce with only
the instance URL changed. Expected values are Salesforce's field names, written out."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceResourceNotFound

from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
)
from crmsync.providers.salesforce.emulator.harness_sales import SalesRecords
from crmsync.providers.salesforce.emulator.ids import to18
from tests.providers.salesforce.sales_org import refused

CLOSE = "2026-06-30"


def deal(**fields: Any) -> dict[str, Any]:
    return {"Name": "Engine", "StageName": "Prospecting", "CloseDate": CLOSE, **fields}


# Opportunity and its stages ----------------------------------------------------------------


def test_an_opportunity_needs_a_stage_and_a_close_date(sf: Salesforce, seed: SalesRecords) -> None:
    errors = refused(sf.Opportunity.create, {"Name": "Engine"})
    assert errors == [
        {
            "errorCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [StageName, CloseDate]",
            "fields": ["StageName", "CloseDate"],
        }
    ]
    assert seed.rows("Opportunity") == []


def test_the_stages_are_queryable(sf: Salesforce) -> None:
    answer = sf.query(
        "SELECT MasterLabel, ApiName, IsClosed, IsWon, DefaultProbability, SortOrder, IsActive "
        "FROM OpportunityStage ORDER BY SortOrder"
    )
    rows = [{k: v for k, v in r.items() if k != "attributes"} for r in answer["records"]]
    assert rows[0] == {
        "MasterLabel": "Prospecting",
        "ApiName": "Prospecting",
        "IsClosed": False,
        "IsWon": False,
        "DefaultProbability": 10.0,
        "SortOrder": 1,
        "IsActive": True,
    }
    won = [r["ApiName"] for r in rows if r["IsWon"]]
    closed = [r["ApiName"] for r in rows if r["IsClosed"]]
    assert (won, closed) == (["Closed Won"], ["Closed Won", "Closed Lost"])


def test_the_stage_sets_closed_won_and_the_default_probability(sf: Salesforce) -> None:
    opportunity = sf.Opportunity.create(deal(Amount=1250.5))["id"]
    read = sf.Opportunity.get(opportunity)
    assert (read["IsClosed"], read["IsWon"], read["Probability"], read["Amount"]) == (
        False,
        False,
        10.0,
        1250.5,
    )
    sf.Opportunity.update(opportunity, {"StageName": "Closed Won"})
    won = sf.Opportunity.get(opportunity)
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100.0)
    sf.Opportunity.update(opportunity, {"StageName": "Proposal", "Probability": 60})
    assert sf.Opportunity.get(opportunity)["Probability"] == 60.0
    # IsClosed and IsWon are the stage's: a write cannot set them
    errors = refused(sf.Opportunity.update, opportunity, {"IsWon": True})
    assert errors[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_an_unknown_or_inactive_stage_is_refused(
    sf: Salesforce, emulator: SalesforceEmulator, seed: SalesRecords
) -> None:
    errors = refused(sf.Opportunity.create, deal(StageName="Haggling"))
    assert errors == [
        {
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Stage: bad value for restricted picklist field: Haggling",
            "fields": ["StageName"],
        }
    ]
    with emulator.store.lock:
        for stage in emulator.store.rows["OpportunityStage"].values():
            if stage["ApiName"] == "Needs Analysis":
                stage["IsActive"] = False
    errors = refused(sf.Opportunity.create, deal(StageName="Needs Analysis"))
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert seed.rows("Opportunity") == []


def test_an_amount_must_be_a_number(sf: Salesforce) -> None:
    errors = refused(sf.Opportunity.create, deal(Amount="lots"))
    assert (errors[0]["errorCode"], errors[0]["fields"]) == (
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        ["Amount"],
    )


@pytest.mark.parametrize("field", ["AccountId", "ContactId"])
def test_an_opportunity_references_an_account_and_a_contact(
    sf: Salesforce, seed: SalesRecords, field: str
) -> None:
    account = seed.account("Analytical Engines")
    contact = seed.contact("Lovelace", account)
    sf.Opportunity.create(deal(AccountId=account, ContactId=contact))
    wrong = contact if field == "AccountId" else account
    errors = refused(sf.Opportunity.create, deal(**{field: wrong}))
    assert (errors[0]["errorCode"], errors[0]["fields"]) == ("FIELD_INTEGRITY_EXCEPTION", [field])
    prefix = "001" if field == "AccountId" else "003"
    errors = refused(sf.Opportunity.create, deal(**{field: to18(f"{prefix}5g0000000ZZZ")}))
    assert (errors[0]["errorCode"], errors[0]["fields"]) == ("INVALID_CROSS_REFERENCE_KEY", [field])


def test_a_contact_account_must_be_an_existing_account(sf: Salesforce, seed: SalesRecords) -> None:
    account = seed.account("Analytical Engines")
    other = seed.contact("Babbage")
    assert seed.read(sf.Contact.create({"LastName": "Lovelace", "AccountId": account})["id"])[
        "AccountId"
    ] == (account)
    cases = [
        ("not-an-id", "MALFORMED_ID"),
        (other, "FIELD_INTEGRITY_EXCEPTION"),
        (to18("0015g0000000ZZZ"), "INVALID_CROSS_REFERENCE_KEY"),
    ]
    for value, code in cases:
        errors = refused(sf.Contact.create, {"LastName": "Byron", "AccountId": value})
        assert (errors[0]["errorCode"], errors[0]["fields"]) == (code, ["AccountId"]), value
    assert len(seed.rows("Contact")) == 2


# Record types ------------------------------------------------------------------------------


def test_a_record_type_limits_the_stages_to_its_sales_process(
    sf: Salesforce, seed: SalesRecords
) -> None:
    short = seed.record_type("Renewal", ("Qualification", "Closed Won", "Closed Lost"))
    listed = sf.query(
        "SELECT Id, Name, DeveloperName FROM RecordType WHERE SobjectType = 'Opportunity'"
    )
    assert [(r["Id"], r["Name"]) for r in listed["records"]] == [(short, "Renewal")]
    created = sf.Opportunity.create(deal(StageName="Qualification", RecordTypeId=short))["id"]
    assert seed.read(created)["RecordTypeId"] == short
    errors = refused(sf.Opportunity.create, deal(RecordTypeId=short))  # Prospecting
    assert errors == [
        {
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "message": "Stage: bad value for restricted picklist field: Prospecting",
            "fields": ["StageName"],
        }
    ]
    errors = refused(sf.Opportunity.update, created, {"StageName": "Proposal"})
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    free = sf.Opportunity.create(deal(StageName="Proposal"))["id"]
    errors = refused(sf.Opportunity.update, free, {"RecordTypeId": short})
    assert errors[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert seed.read(created)["StageName"] == "Qualification"


def test_an_inactive_record_type_is_refused(sf: Salesforce, seed: SalesRecords) -> None:
    retired = seed.record_type("Legacy", ("Prospecting",), active=False)
    errors = refused(sf.Opportunity.create, deal(RecordTypeId=retired))
    assert errors == [
        {
            "errorCode": "INVALID_CROSS_REFERENCE_KEY",
            "message": f"Record Type ID: this ID value isn't valid for the user: {retired}",
            "fields": ["RecordTypeId"],
        }
    ]


# Custom fields and upserts by external ID --------------------------------------------------

REQUIRED: dict[str, dict[str, Any]] = {
    "Account": {"Name": "Analytical Engines"},
    "Contact": {"LastName": "Lovelace"},
    "Opportunity": deal(),
    "Task": {"Subject": "Call"},
    "Event": {"Subject": "Call", "StartDateTime": "2026-05-06T09:00:00Z", "DurationInMinutes": 5},
}


@pytest.mark.parametrize("sobject", list(REQUIRED))
def test_a_tooling_api_external_id_field_takes_upserts(sf: Salesforce, sobject: str) -> None:
    created = sf.toolingexecute(
        "sobjects/CustomField",
        method="POST",
        data={
            "FullName": f"{sobject}.Close_ID__c",
            "Metadata": {"label": "Close ID", "type": "Text", "length": 64, "externalId": True},
        },
    )
    assert created["success"] is True
    described = {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}
    assert (described["Close_ID__c"]["externalId"], described["Close_ID__c"]["custom"]) == (
        True,
        True,
    )
    api = getattr(sf, sobject)
    first = api.upsert("Close_ID__c/close_1", REQUIRED[sobject], raw_response=True)
    assert first.status_code == 201
    second = api.upsert("Close_ID__c/close_1", {"Description": "again"}, raw_response=True)
    assert second.status_code == 200
    found = api.get_by_custom_id("Close_ID__c", "close_1")
    assert (found["Id"], found["Close_ID__c"]) == (first.json()["id"], "close_1")
    not_external = refused(api.upsert, "Description/x", REQUIRED[sobject])
    assert not_external[0]["errorCode"] == "INVALID_FIELD"


def test_an_upsert_on_a_field_that_does_not_exist_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Account.upsert("Close_ID__c/x", {"Name": "A"})
    assert missing.value.content[0]["errorCode"] == "NOT_FOUND"


def test_a_custom_field_on_an_unknown_object_is_refused(sf: Salesforce) -> None:
    body = {"FullName": "Nothing.Close_ID__c", "Metadata": {"type": "Text", "length": 9}}
    errors = refused(sf.toolingexecute, "sobjects/CustomField", "POST", body)
    assert errors[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
