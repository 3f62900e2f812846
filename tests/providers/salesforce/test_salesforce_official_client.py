"""The Salesforce emulator read through simple-salesforce with only the instance URL changed:
each answer is checked against what Salesforce documents, with its field names written out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from crmsync.emulation import ManualClock
from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
    SalesforceEmulatorConfig,
    create_app,
)
from tests.providers.salesforce.official_client import official_client

PERSON_ID = "Acme_Person_ID__c"
START = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START.timestamp())


@pytest.fixture
def app(clock: ManualClock) -> FastAPI:
    config = SalesforceEmulatorConfig(
        package_fields=(PERSON_ID, "Acme_Profile_URL__c"), clock=clock, org_name="Acme Ltd"
    )
    return create_app(config)


@pytest.fixture
def emulator(app: FastAPI) -> SalesforceEmulator:
    org: SalesforceEmulator = app.state.emulator
    return org


@pytest.fixture
def sf(app: FastAPI, tmp_path: Path) -> Iterator[Salesforce]:
    with official_client(app, tmp_path) as client:
        yield client


def lead(person_id: str, **fields: str) -> dict[str, str]:
    return {PERSON_ID: person_id, "LastName": "Lovelace", "Company": "Analytical", **fields}


# sObject reads -------------------------------------------------------------------------------


def test_a_lead_is_read_by_its_external_id(sf: Salesforce) -> None:
    created = sf.Lead.create(lead("p1", Email="ada@example.com"))
    found = sf.Lead.get_by_custom_id(PERSON_ID, "p1")
    assert found["Id"] == created["id"]
    assert (found[PERSON_ID], found["Email"]) == ("p1", "ada@example.com")
    assert found["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v60.0/sobjects/Lead/{created['id']}",
    }


def test_an_unknown_external_id_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Lead.get_by_custom_id(PERSON_ID, "nobody")
    assert missing.value.content == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_an_external_id_shared_by_two_leads_answers_300_with_both(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    """An external ID that is not unique can match several records: 300 lists them."""
    unique = emulator.store.objects["Lead"].fields[PERSON_ID]
    emulator.store.remove_field("Lead", PERSON_ID)
    emulator.store.add_field("Lead", replace(unique, unique=False))
    first = sf.Lead.create(lead("twin"))["id"]
    second = sf.Lead.create(lead("twin"))["id"]
    with pytest.raises(SalesforceMoreThanOneRecord) as several:
        sf.Lead.get_by_custom_id(PERSON_ID, "twin")
    assert several.value.status == 300
    assert several.value.content == [
        f"/services/data/v60.0/sobjects/Lead/{first}",
        f"/services/data/v60.0/sobjects/Lead/{second}",
    ]


def test_describe_lists_the_lead_fields_with_their_metadata(sf: Salesforce) -> None:
    described = sf.Lead.describe()
    assert described["name"] == "Lead"
    fields = {f["name"]: f for f in described["fields"]}
    person = fields[PERSON_ID]
    assert (person["type"], person["length"], person["custom"]) == ("string", 255, True)
    assert (person["externalId"], person["unique"], person["label"]) == (
        True,
        True,
        "Acme Person ID",
    )
    status = fields["Status"]
    assert status["type"] == "picklist"
    assert status["picklistValues"][0]["value"] == "Open - Not Contacted"
    assert fields["Email"]["custom"] is False


def test_the_trailing_slash_paths_the_client_sends_are_answered_without_a_redirect(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    """simple-salesforce asks for ``query/``, ``describe/`` and ``limits/``; Salesforce answers
    them directly, so must the emulator (a redirect would be a second, counted call)."""
    assert sf.restful("sobjects/Lead/describe/")["name"] == "Lead"
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 0
    sf.limits()
    data = "/services/data/{version}"
    for template in ("/sobjects/{sobject}/describe/", "/query/", "/limits/"):
        assert emulator.counters.get("GET", data + template) == 1, template


# Replication ---------------------------------------------------------------------------------


def test_updated_lists_the_leads_changed_in_the_window(
    sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    early = sf.Lead.create(lead("p1"))["id"]
    clock.advance(120)
    later = sf.Lead.create(lead("p2"))["id"]
    clock.advance(120)
    window = sf.Lead.updated(START - timedelta(minutes=1), START + timedelta(minutes=10))
    assert set(window["ids"]) == {early, later}
    # seconds are dropped and the end is capped at now: 12:04:30 is covered up to 12:04
    assert window["latestDateCovered"] == "2026-05-04T12:04:00.000+0000"
    only_later = sf.Lead.updated(START + timedelta(minutes=1), START + timedelta(minutes=3))
    assert only_later["ids"] == [later]


def test_deleted_lists_the_deleted_leads_with_when(sf: Salesforce, clock: ManualClock) -> None:
    gone = sf.Lead.create(lead("p1"))["id"]
    clock.advance(60)
    sf.Lead.delete(gone)
    clock.advance(120)
    window = sf.Lead.deleted(START - timedelta(minutes=1), START + timedelta(minutes=5))
    assert window["deletedRecords"] == [{"id": gone, "deletedDate": "2026-05-04T12:01:30.000+0000"}]
    assert window["earliestDateAvailable"] == "2026-05-04T12:00:00.000+0000"
    assert window["latestDateCovered"] == "2026-05-04T12:03:00.000+0000"


def test_replication_windows_are_checked_as_salesforce_checks_them(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as backwards:
        sf.Lead.updated(START, START - timedelta(minutes=5))
    assert backwards.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    with pytest.raises(SalesforceMalformedRequest) as too_old:
        sf.Lead.deleted(START - timedelta(days=31), START)
    assert too_old.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"


def test_limits_report_the_daily_allocation_used(sf: Salesforce) -> None:
    sf.Lead.create(lead("p1"))
    limits = sf.limits()
    daily = limits["DailyApiRequests"]
    assert daily["Max"] == 100_000
    assert daily["Remaining"] == daily["Max"] - 2  # the create and this call
    assert set(limits["DataStorageMB"]) == {"Max", "Remaining"}


def test_the_organization_is_queryable(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    assert sf.is_sandbox() is False
    [org] = sf.query_all(
        "SELECT Id, Name, OrganizationType, InstanceName, IsSandbox FROM Organization"
    )["records"]
    assert org["Id"] == emulator.org_id
    assert (org["Name"], org["OrganizationType"], org["InstanceName"]) == (
        "Acme Ltd",
        "Developer Edition",
        "NA224",
    )


# Unknown routes ------------------------------------------------------------------------------


def test_an_unknown_route_answers_salesforce_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.restful("no/such/resource")
    assert missing.value.content == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_a_method_a_resource_does_not_take_answers_salesforce_405(sf: Salesforce) -> None:
    with pytest.raises(SalesforceGeneralError) as refused:
        sf.restful("limits", method="PUT")
    assert refused.value.status == 405
    [error] = refused.value.content
    assert error["errorCode"] == "METHOD_NOT_ALLOWED"
    assert error["message"].startswith("HTTP Method 'PUT' not allowed. Allowed are GET")


# Lead assignment rules -----------------------------------------------------------------------


def test_the_active_assignment_rule_owns_leads_unless_the_write_says_false(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    chosen = emulator.add_user("chosen@acme.test", "Chosen", "Owner")
    keeper = emulator.add_user("keeper@acme.test", "Queue", "Keeper")
    rule = emulator.set_assignment_rule(keeper, "Round robin")
    [listed] = sf.query("SELECT Id, Name, Active, SobjectType FROM AssignmentRule")["records"]
    assert (listed["Id"], listed["Name"], listed["Active"]) == (rule, "Round robin", True)

    defaulted = sf.Lead.create(lead("p1", OwnerId=chosen))["id"]
    assert sf.Lead.get(defaulted)["OwnerId"] == keeper  # no header: TRUE
    kept = sf.Lead.create(lead("p2", OwnerId=chosen), headers={"Sforce-Auto-Assign": "false"})
    assert sf.Lead.get(kept["id"])["OwnerId"] == chosen
    sf.Lead.update(kept["id"], {"Title": "CTO"})  # TRUE runs the rule on updates too
    assert sf.Lead.get(kept["id"])["OwnerId"] == keeper
    sf.Lead.update(kept["id"], {"OwnerId": chosen}, headers={"Sforce-Auto-Assign": "FALSE"})
    assert sf.Lead.get(kept["id"])["OwnerId"] == chosen


def test_an_assignment_rule_named_by_id_runs_on_created_leads_only(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    chosen = emulator.add_user("chosen@acme.test", "Chosen", "Owner")
    keeper = emulator.add_user("keeper@acme.test", "Queue", "Keeper")
    inactive = emulator.set_assignment_rule(keeper, "Manual only", active=False)
    named = {"Sforce-Auto-Assign": inactive}
    created = sf.Lead.create(lead("p1", OwnerId=chosen), headers=named)["id"]
    assert sf.Lead.get(created)["OwnerId"] == keeper
    sf.Lead.update(created, {"OwnerId": chosen}, headers=named)
    assert sf.Lead.get(created)["OwnerId"] == chosen
    plain = sf.Lead.create(lead("p2", OwnerId=chosen))["id"]  # the rule is not active
    assert sf.Lead.get(plain)["OwnerId"] == chosen


# SOQL ----------------------------------------------------------------------------------------


def test_soql_follows_lookups_to_the_owner(sf: Salesforce, emulator: SalesforceEmulator) -> None:
    olive = emulator.add_user("olive@acme.test", "Olive", "Owner")
    sf.Lead.create(lead("p1", OwnerId=olive), headers={"Sforce-Auto-Assign": "FALSE"})
    [record] = sf.query_all(
        "SELECT Id, Owner.Email, owner.name, CreatedBy.Email FROM Lead "
        "WHERE Owner.Email = 'OLIVE@acme.test' ORDER BY Owner.Name"
    )["records"]
    assert record["Owner"] == {
        "attributes": {"type": "User", "url": f"/services/data/v60.0/sobjects/User/{olive}"},
        "Email": "olive@acme.test",
        "Name": "Olive Owner",
    }
    assert record["CreatedBy"]["Email"] == emulator.config.admin_email
    assert sf.query("SELECT Id FROM Lead WHERE Owner.Email = 'x@y.z'")["totalSize"] == 0


def test_an_empty_lookup_comes_back_null(sf: Salesforce) -> None:
    sf.Lead.create(lead("p1"))
    [record] = sf.query("SELECT ConvertedContact.Email FROM Lead")["records"]
    assert record["ConvertedContact"] is None


def test_soql_groups_and_counts(sf: Salesforce) -> None:
    for n, source in enumerate(["Web", "Web", "Phone Inquiry", None]):
        extra = {"LeadSource": source} if source else {}
        sf.Lead.create(lead(f"p{n}", **extra))
    grouped = sf.query(
        "SELECT LeadSource, COUNT(Id), COUNT(LeadSource) n FROM Lead "
        "GROUP BY LeadSource ORDER BY LeadSource"
    )
    assert grouped["totalSize"] == 3
    assert [{k: v for k, v in r.items() if k != "attributes"} for r in grouped["records"]] == [
        {"LeadSource": None, "expr0": 1, "n": 0},
        {"LeadSource": "Phone Inquiry", "expr0": 1, "n": 1},
        {"LeadSource": "Web", "expr0": 2, "n": 2},
    ]
    assert grouped["records"][0]["attributes"] == {"type": "AggregateResult"}
    [everything] = sf.query("SELECT COUNT(Id) FROM Lead")["records"]
    assert everything["expr0"] == 4
    assert sf.query("SELECT COUNT() FROM Lead WHERE LeadSource = 'Web'")["totalSize"] == 2


def test_having_keeps_the_groups_that_match(sf: Salesforce) -> None:
    """The query a duplicate check runs: emails more than one lead shares."""
    for n, email in enumerate(["a@x.test", "A@x.test", "b@x.test", "c@x.test", "c@x.test"]):
        sf.Lead.create(lead(f"p{n}", Email=email))
    shared = sf.query(
        "SELECT Email, COUNT(Id) FROM Lead GROUP BY Email HAVING COUNT(Id) > 1 "
        "AND (NOT Email = 'nobody@x.test') ORDER BY Email"
    )["records"]
    assert [(r["Email"].lower(), r["expr0"]) for r in shared] == [("a@x.test", 2), ("c@x.test", 2)]


@pytest.mark.parametrize(
    ("soql", "code", "message"),
    [
        ("SELECT COUNT() FROM Lead GROUP BY LeadSource", "MALFORMED_QUERY", "COUNT()"),
        ("SELECT Email, COUNT(Id) FROM Lead GROUP BY LeadSource", "MALFORMED_QUERY", "grouped"),
        (
            "SELECT CreatedDate FROM Lead GROUP BY CreatedDate",
            "INVALID_FIELD",
            "can not be grouped",
        ),
        ("SELECT Boss.Email FROM Lead", "INVALID_FIELD", "Didn't understand relationship 'Boss'"),
        ("SELECT Owner.Shoe FROM Lead", "INVALID_FIELD", "No such column 'Shoe' on entity 'User'"),
        ("SELECT Id FROM Lead HAVING COUNT(Id) > 1", "MALFORMED_QUERY", "'HAVING'"),
        (
            "SELECT Email FROM Lead GROUP BY Email HAVING COUNT(Id) > '1'",
            "INVALID_FIELD",
            "must be of type number",
        ),
        ("SELECT Id, (SELECT Id FROM Tasks) FROM Lead", "MALFORMED_QUERY", "unexpected token"),
        ("SELECT Id FROM Lead WHERE CreatedDate = TODAY", "MALFORMED_QUERY", "'TODAY'"),
    ],
)
def test_what_soql_refuses_comes_back_in_salesforces_shape(
    sf: Salesforce, soql: str, code: str, message: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(soql)
    [error] = refused.value.content
    assert error["errorCode"] == code
    assert message in error["message"]
    assert "ERROR at Row:1:Column:" in error["message"]
