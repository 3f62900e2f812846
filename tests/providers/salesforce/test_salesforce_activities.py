"""Tasks and Events in the Salesforce emulator, written through simple-salesforce with only the
instance URL changed: an Event's end and length, and what ``WhoId``/``WhatId`` may name.
Records are read back with Salesforce's own field names."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce

from crmsync.providers.salesforce.emulator.harness_sales import SalesRecords
from crmsync.providers.salesforce.emulator.ids import to18
from tests.providers.salesforce.sales_org import refused

AT = "2026-05-06T09:00:00.000+0000"


def missing_id(sobject_prefix: str) -> str:
    """A well-formed id of a record that does not exist."""
    return to18(f"{sobject_prefix}5g0000000ZZZ")


# Event: end and duration -------------------------------------------------------------------


def test_an_event_without_end_or_duration_is_refused_and_not_written(
    sf: Salesforce, seed: SalesRecords
) -> None:
    errors = refused(sf.Event.create, {"Subject": "Demo", "StartDateTime": AT})
    assert errors == [
        {
            "errorCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [DurationInMinutes]",
            "fields": ["DurationInMinutes"],
        }
    ]
    assert seed.rows("Event") == []


def test_an_event_that_is_not_all_day_needs_a_start(sf: Salesforce) -> None:
    errors = refused(sf.Event.create, {"Subject": "Demo", "DurationInMinutes": 30})
    assert [(e["errorCode"], e["fields"]) for e in errors] == [
        ("REQUIRED_FIELD_MISSING", ["ActivityDateTime"])
    ]


def test_the_end_is_derived_from_the_duration_and_the_duration_from_the_end(
    sf: Salesforce,
) -> None:
    by_length = sf.Event.create({"Subject": "Call", "StartDateTime": AT, "DurationInMinutes": 30})
    read = sf.Event.get(by_length["id"])
    assert read["EndDateTime"] == "2026-05-06T09:30:00.000+0000"
    assert read["ActivityDateTime"] == read["StartDateTime"] == AT
    assert (read["IsAllDayEvent"], read["ActivityDate"]) == (False, "2026-05-06")
    by_end = sf.Event.create(
        {"Subject": "Lunch", "StartDateTime": AT, "EndDateTime": "2026-05-06T09:45:00Z"}
    )
    assert sf.Event.get(by_end["id"])["DurationInMinutes"] == 45


def test_an_update_moves_the_end_with_the_length_or_the_start(sf: Salesforce) -> None:
    event_id = sf.Event.create({"Subject": "Call", "StartDateTime": AT, "DurationInMinutes": 30})[
        "id"
    ]
    sf.Event.update(event_id, {"DurationInMinutes": 90})
    assert sf.Event.get(event_id)["EndDateTime"] == "2026-05-06T10:30:00.000+0000"
    sf.Event.update(event_id, {"StartDateTime": "2026-05-07T09:00:00.000+0000"})
    moved = sf.Event.get(event_id)
    assert (moved["EndDateTime"], moved["DurationInMinutes"]) == (
        "2026-05-07T10:30:00.000+0000",
        90,
    )
    sf.Event.update(event_id, {"EndDateTime": "2026-05-07T09:15:00.000+0000"})
    assert sf.Event.get(event_id)["DurationInMinutes"] == 15


def test_an_all_day_event_without_end_or_duration_lasts_a_day(sf: Salesforce) -> None:
    event_id = sf.Event.create(
        {"Subject": "Offsite", "IsAllDayEvent": True, "ActivityDate": "2026-05-06"}
    )["id"]
    read = sf.Event.get(event_id)
    assert (read["DurationInMinutes"], read["EndDateTime"]) == (
        1440,
        "2026-05-07T00:00:00.000+0000",
    )


def test_a_duration_and_an_end_that_disagree_are_refused(sf: Salesforce) -> None:
    body = {
        "Subject": "Call",
        "StartDateTime": AT,
        "DurationInMinutes": 30,
        "EndDateTime": "2026-05-06T11:00:00.000+0000",
    }
    errors = refused(sf.Event.create, body)
    assert errors[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert errors[0]["fields"] == ["DurationInMinutes", "EndDateTime"]


def test_an_end_before_the_start_is_refused(sf: Salesforce, seed: SalesRecords) -> None:
    body = {"Subject": "Call", "StartDateTime": AT, "EndDateTime": "2026-05-06T08:00:00Z"}
    errors = refused(sf.Event.create, body)
    assert (errors[0]["errorCode"], errors[0]["fields"]) == (
        "FIELD_INTEGRITY_EXCEPTION",
        ["EndDateTime"],
    )
    assert seed.rows("Event") == []


def test_an_all_day_event_needs_its_date(sf: Salesforce) -> None:
    errors = refused(sf.Event.create, {"Subject": "Offsite", "IsAllDayEvent": True})
    assert [(e["errorCode"], e["fields"]) for e in errors] == [
        ("REQUIRED_FIELD_MISSING", ["ActivityDate"])
    ]


def test_a_duration_that_is_not_a_whole_number_is_refused(sf: Salesforce) -> None:
    body = {"Subject": "Call", "StartDateTime": AT, "DurationInMinutes": "half an hour"}
    errors = refused(sf.Event.create, body)
    assert errors[0]["errorCode"] == "INVALID_TYPE_ON_FIELD_IN_RECORD"


# WhoId and WhatId --------------------------------------------------------------------------


def activity(sf: Salesforce, sobject: str) -> Any:
    return sf.Task if sobject == "Task" else sf.Event


def body_of(sobject: str, **links: str) -> dict[str, Any]:
    base: dict[str, Any] = {"Subject": "Follow up"}
    if sobject == "Event":
        base.update(StartDateTime=AT, DurationInMinutes=30)
    return {**base, **links}


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_who_and_what_name_a_person_and_a_deal(
    sf: Salesforce, seed: SalesRecords, sobject: str
) -> None:
    account = seed.account("Analytical Engines")
    contact = seed.contact("Lovelace", account)
    deal = seed.opportunity("Engine", "Prospecting", "2026-06-30", account)
    created = activity(sf, sobject).create(body_of(sobject, WhoId=contact, WhatId=deal))
    found = sf.query(f"SELECT Id, WhoId, WhatId FROM {sobject} WHERE WhatId = '{deal}'")
    assert [(r["Id"], r["WhoId"], r["WhatId"]) for r in found["records"]] == [
        (created["id"], contact, deal)
    ]


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_who_must_be_a_lead_or_a_contact(sf: Salesforce, seed: SalesRecords, sobject: str) -> None:
    account = seed.account("Analytical Engines")
    errors = refused(activity(sf, sobject).create, body_of(sobject, WhoId=account))
    assert errors == [
        {
            "errorCode": "FIELD_INTEGRITY_EXCEPTION",
            "message": f"Name ID: id value of incorrect type: {account}",
            "fields": ["WhoId"],
        }
    ]
    assert seed.rows(sobject) == []


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_what_must_be_an_account_or_an_opportunity(
    sf: Salesforce, seed: SalesRecords, sobject: str
) -> None:
    contact = seed.contact("Lovelace")
    errors = refused(activity(sf, sobject).create, body_of(sobject, WhatId=contact))
    assert [(e["errorCode"], e["message"], e["fields"]) for e in errors] == [
        (
            "FIELD_INTEGRITY_EXCEPTION",
            f"Related To ID: id value of incorrect type: {contact}",
            ["WhatId"],
        )
    ]


@pytest.mark.parametrize("sobject", ["Task", "Event"])
def test_a_lead_leaves_no_room_for_a_what(sf: Salesforce, seed: SalesRecords, sobject: str) -> None:
    lead = seed.seed("Lead", {"LastName": "Babbage", "Company": "Difference"})
    account = seed.account("Analytical Engines")
    errors = refused(activity(sf, sobject).create, body_of(sobject, WhoId=lead, WhatId=account))
    assert [(e["errorCode"], e["fields"]) for e in errors] == [
        ("FIELD_INTEGRITY_EXCEPTION", ["WhoId", "WhatId"])
    ]
    assert seed.rows(sobject) == []
    # nor can an update add a what to an activity about a lead
    created = activity(sf, sobject).create(body_of(sobject, WhoId=lead))["id"]
    errors = refused(activity(sf, sobject).update, created, {"WhatId": account})
    assert errors[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    assert seed.read(created).get("WhatId") is None


@pytest.mark.parametrize("field", ["WhoId", "WhatId"])
def test_malformed_and_unknown_references_are_refused(sf: Salesforce, field: str) -> None:
    malformed = refused(sf.Task.create, {"Subject": "x", field: "not-an-id"})
    assert [(e["errorCode"], e["fields"]) for e in malformed] == [("MALFORMED_ID", [field])]
    prefix = "003" if field == "WhoId" else "001"
    unknown = refused(sf.Task.create, {"Subject": "x", field: missing_id(prefix)})
    assert unknown == [
        {
            "errorCode": "INVALID_CROSS_REFERENCE_KEY",
            "message": "invalid cross reference id",
            "fields": [field],
        }
    ]


def test_a_deleted_person_is_an_unknown_reference(sf: Salesforce, seed: SalesRecords) -> None:
    contact = seed.contact("Lovelace")
    sf.Contact.delete(contact)
    errors = refused(sf.Task.create, {"Subject": "x", "WhoId": contact})
    assert errors[0]["errorCode"] == "INVALID_CROSS_REFERENCE_KEY"
