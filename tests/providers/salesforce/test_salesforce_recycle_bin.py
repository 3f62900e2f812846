"""The emulator's change capture as Salesforce documents it, read through simple-salesforce
with only the instance URL changed: the recycle bin (``queryAll``, ``IsDeleted``, 15 days),
undelete, merge and conversion as a CRM user, and keyset paging on ``SystemModstamp``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from crmsync.emulation import ManualClock
from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
    SalesforceEmulatorConfig,
    create_app,
)
from tests.providers.salesforce.official_client import official_client

PERSON_ID = "Acme_Person_ID__c"
START = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC)
DAY = 86_400


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=START.timestamp())


@pytest.fixture
def app(clock: ManualClock) -> FastAPI:
    config = SalesforceEmulatorConfig(
        package_fields=(PERSON_ID,),
        clock=clock,
        query_page_size=200,
        session_seconds=40 * DAY,  # the session outlives the days these tests skip
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


def lead(person_id: str) -> dict[str, str]:
    return {PERSON_ID: person_id, "LastName": "Lovelace", "Company": "Analytical"}


def control(sf: Salesforce, method: str, path: str, body: Any = None) -> Any:
    """A harness control over HTTP, on the same served emulator."""
    response = sf.session.request(method, f"https://{sf.sf_instance}/_emulator{path}", json=body)
    assert response.status_code < 300, response.text
    return response.json()


def ids_of(records: list[dict[str, Any]]) -> list[str]:
    return [str(r["Id"]) for r in records]


def test_a_deleted_lead_leaves_query_and_stays_in_query_all_with_is_deleted(
    sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    kept, gone = sf.Lead.create(lead("p1"))["id"], sf.Lead.create(lead("p2"))["id"]
    clock.advance(5)
    sf.Lead.delete(gone)
    soql = "SELECT Id, IsDeleted, SystemModstamp, LastModifiedById FROM Lead"
    assert ids_of(sf.query(soql)["records"]) == [kept]
    every = {r["Id"]: r for r in sf.query_all(soql, include_deleted=True)["records"]}
    assert set(every) == {kept, gone}
    assert every[gone]["IsDeleted"] is True and every[kept]["IsDeleted"] is False
    assert every[gone]["SystemModstamp"] == "2026-05-04T12:00:35.000+0000", "the delete stamps"
    assert every[gone]["LastModifiedById"] == emulator.admin_id, "the session's user deleted it"
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Lead.get(gone)
    assert missing.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    clock.advance(120)  # getDeleted covers whole minutes up to now
    window = sf.Lead.deleted(START - timedelta(minutes=1), START + timedelta(minutes=5))
    assert window["deletedRecords"] == [{"id": gone, "deletedDate": "2026-05-04T12:00:35.000+0000"}]


def test_stamps_are_whole_seconds_so_writes_within_a_second_share_one(
    sf: Salesforce, clock: ManualClock
) -> None:
    first = sf.Lead.create(lead("p1"))["id"]
    clock.advance(0.4)
    second = sf.Lead.create(lead("p2"))["id"]
    stamps = {sf.Lead.get(i)["SystemModstamp"] for i in (first, second)}
    assert stamps == {"2026-05-04T12:00:30.000+0000"}


def test_deletes_older_than_the_retention_are_purged_and_the_log_refuses_to_reach_back(
    sf: Salesforce, clock: ManualClock
) -> None:
    gone = sf.Lead.create(lead("p1"))["id"]
    sf.Lead.delete(gone)
    clock.advance(14 * DAY)
    assert ids_of(sf.query_all("SELECT Id FROM Lead", include_deleted=True)["records"]) == [gone]
    clock.advance(2 * DAY)
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["records"] == []
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.deleted(START - timedelta(minutes=1), START + timedelta(days=1))
    assert refused.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    later = START + timedelta(minutes=2)
    window = sf.Lead.deleted(later, later + timedelta(days=1))
    assert window["earliestDateAvailable"] == "2026-05-04T12:00:00.000+0000"
    assert window["deletedRecords"] == []


def test_a_shorter_retention_and_an_emptied_bin_purge_sooner(
    app: FastAPI, sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    emulator.config.deleted_retention_days = 1
    first = sf.Lead.create(lead("p1"))["id"]
    sf.Lead.delete(first)
    clock.advance(DAY + 1)
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["records"] == []
    second = sf.Lead.create(lead("p2"))["id"]
    sf.Lead.delete(second)
    assert control(sf, "POST", "/recycle-bin/empty") == {"purged": 1}
    assert sf.query_all("SELECT Id FROM Lead", include_deleted=True)["records"] == []


def test_undelete_brings_a_lead_back_with_new_stamps(
    sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    gone = sf.Lead.create(lead("p1"))["id"]
    sf.Lead.delete(gone)
    clock.advance(60)
    restored = control(sf, "POST", f"/records/Lead/{gone}/undelete")
    assert restored["IsDeleted"] is False
    back = sf.Lead.get(gone)
    assert back["SystemModstamp"] == "2026-05-04T12:01:30.000+0000"
    assert back["LastModifiedById"] == emulator.crm_user() != emulator.admin_id
    assert sf.Lead.get_by_custom_id(PERSON_ID, "p1")["Id"] == gone, "indexed again"
    window = sf.Lead.deleted(START - timedelta(minutes=1), START + timedelta(minutes=5))
    assert window["deletedRecords"] == []


def test_undelete_is_refused_when_a_live_lead_holds_its_external_id(sf: Salesforce) -> None:
    gone = sf.Lead.create(lead("p1"))["id"]
    sf.Lead.delete(gone)
    sf.Lead.create(lead("p1"))
    response = sf.session.post(f"https://{sf.sf_instance}/_emulator/records/Lead/{gone}/undelete")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "DUPLICATE_VALUE"


def test_a_merge_deletes_the_losers_with_their_master_and_moves_the_masters_stamp(
    sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    master, one, two = (sf.Lead.create(lead(p))["id"] for p in ("p1", "p2", "p3"))
    task = sf.Task.create({"Subject": "Call", "WhoId": one})["id"]
    clock.advance(90)
    control(sf, "POST", "/records/Lead/merge", {"masterRecordId": master, "recordIds": [one, two]})
    soql = "SELECT Id, IsDeleted, MasterRecordId, SystemModstamp, LastModifiedById FROM Lead"
    rows = {r["Id"]: r for r in sf.query_all(soql, include_deleted=True)["records"]}
    assert ids_of(sf.query("SELECT Id FROM Lead")["records"]) == [master]
    for loser in (one, two):
        assert (rows[loser]["IsDeleted"], rows[loser]["MasterRecordId"]) == (True, master)
    assert rows[master]["MasterRecordId"] is None
    assert rows[master]["SystemModstamp"] == "2026-05-04T12:02:00.000+0000"
    assert rows[master]["LastModifiedById"] == emulator.crm_user()
    assert sf.Task.get(task)["WhoId"] == master, "children move to the master"


@pytest.mark.parametrize("merged", [[], ["a", "b", "c"]])
def test_a_merge_takes_one_or_two_records(sf: Salesforce, merged: list[str]) -> None:
    master = sf.Lead.create(lead("p1"))["id"]
    body = {"masterRecordId": master, "recordIds": merged}
    response = sf.session.post(f"https://{sf.sf_instance}/_emulator/records/Lead/merge", json=body)
    assert response.status_code == 422
    assert ids_of(sf.query("SELECT Id FROM Lead")["records"]) == [master]


def test_converting_a_lead_as_a_crm_user_moves_its_stamp(
    sf: Salesforce, emulator: SalesforceEmulator, clock: ManualClock
) -> None:
    lead_id = sf.Lead.create(lead("p1"))["id"]
    clock.advance(30)
    control(sf, "POST", f"/leads/{lead_id}/convert", {})
    converted = sf.Lead.get(lead_id)
    assert converted["IsConverted"] is True
    assert str(converted["ConvertedContactId"]).startswith("003")
    assert converted["SystemModstamp"] == "2026-05-04T12:01:00.000+0000"
    assert converted["LastModifiedById"] == emulator.crm_user()


def test_the_clock_control_ages_the_org(sf: Salesforce) -> None:
    moved = control(sf, "POST", "/clock", {"advanceSeconds": 16 * DAY})
    assert moved == {"now": "2026-05-20T12:00:30.000+0000"}
    created = sf.Lead.create(lead("p1"))["id"]
    assert sf.Lead.get(created)["CreatedDate"] == "2026-05-20T12:00:30.000+0000"


def test_keyset_paging_on_the_stamp_then_the_id_reads_a_crowded_second_once(
    sf: Salesforce, clock: ManualClock
) -> None:
    created = [sf.Lead.create(lead(f"p{n}"))["id"] for n in range(7)]  # one second
    clock.advance(1)
    later = sf.Lead.create(lead("late"))["id"]
    seen: list[str] = []
    where = "SystemModstamp >= 2026-05-04T12:00:30Z"
    while True:
        page = sf.query_all(
            f"SELECT Id, SystemModstamp FROM Lead WHERE {where} "
            "ORDER BY SystemModstamp ASC, Id ASC LIMIT 3",
            include_deleted=True,
        )["records"]
        if not page:
            break
        seen += ids_of(page)
        stamp, last = page[-1]["SystemModstamp"][:19] + "Z", page[-1]["Id"]
        where = f"SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{last}')"
    assert seen == [*sorted(created), later]


def test_id_in_reads_the_named_live_leads(sf: Salesforce) -> None:
    one, two, gone = (sf.Lead.create(lead(p))["id"] for p in ("p1", "p2", "p3"))
    sf.Lead.delete(gone)
    found = sf.query(f"SELECT Id FROM Lead WHERE Id IN ('{one}', '{gone}')")["records"]
    assert ids_of(found) == [one]
    assert two not in ids_of(found)


def test_query_all_pages_through_its_own_next_records_url(
    sf: Salesforce, emulator: SalesforceEmulator
) -> None:
    context = emulator.context()
    made = [emulator.store.create("Lead", lead(f"p{n}"), context)["Id"] for n in range(450)]
    for record_id in made[:50]:
        emulator.store.delete("Lead", record_id, emulator.admin_id)
    first = sf.query("SELECT Id FROM Lead", include_deleted=True)
    assert (first["totalSize"], len(first["records"]), first["done"]) == (450, 200, False)
    assert "/queryAll/" in first["nextRecordsUrl"]
    every = sf.query_all("SELECT Id, IsDeleted FROM Lead", include_deleted=True)["records"]
    assert len(every) == 450 and sum(r["IsDeleted"] for r in every) == 50


@pytest.mark.parametrize(
    "clause",
    [
        "SELECT Id FROM Lead WHERE SystemModstamp > LAST_N_DAYS:2",
        "SELECT Id FROM Lead ORDER BY SystemModstamp LIMIT 5 FOR VIEW",
        "SELECT Id FROM Lead ALL ROWS",
    ],
)
def test_clauses_the_emulator_does_not_run_are_refused_not_ignored(
    sf: Salesforce, clause: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query_all(clause, include_deleted=True)
    assert refused.value.content[0]["errorCode"] == "MALFORMED_QUERY"
