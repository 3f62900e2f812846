"""The Salesforce emulator over HTTP, asserted on what a connector sees: statuses, error
bodies, headers, result files and stored records."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from crmsync.emulation import ManualClock
from crmsync.providers.salesforce.emulator import (
    SalesforceEmulator,
    SalesforceEmulatorConfig,
    create_app,
)
from tests.providers.salesforce.conftest import emulator_client
from tests.support.consent import FormParser

pytestmark = pytest.mark.anyio

V = "/services/data/v60.0"
PERSON_ID = "Acme_Person_ID__c"
REDIRECT = "https://app.crmsync.test/oauth/callback/salesforce"
LOGIN = "https://login.salesforce.com"


class Org:
    """An emulated org, an HTTP client on it, and a session for API calls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.emulator: SalesforceEmulator = app.state.emulator
        self.http = emulator_client(app)
        grant_code = self.emulator.oauth.issue_code(
            client_id=self.emulator.config.client_id,
            redirect_uri=REDIRECT,
            scopes=["api", "refresh_token"],
            account_id=self.emulator.org_id,
            user=self.emulator.admin_id,
        )
        grant = self.emulator.oauth.exchange_code(
            code=grant_code, client_id=self.emulator.config.client_id, redirect_uri=REDIRECT
        )
        self.http.headers["Authorization"] = f"Bearer {grant.access_token.token}"

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(method, f"{V}{path}", **kwargs)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start=86_400.0 * 20_000 + 600)


@pytest.fixture
async def sf(clock: ManualClock) -> AsyncIterator[Org]:
    config = SalesforceEmulatorConfig(
        package_fields=(PERSON_ID, "Acme_Profile_URL__c"), clock=clock, daily_allocation=1_000
    )
    org = Org(create_app(config))
    async with org.http:
        yield org


def lead(person_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "Lead"},
        PERSON_ID: person_id,
        "LastName": "L",
        "Company": "C",
        **fields,
    }


async def upsert(sf: Org, records: list[dict[str, Any]], **kwargs: Any) -> httpx.Response:
    body = {"allOrNone": False, "records": records}
    return await sf.call("PATCH", f"/composite/sobjects/Lead/{PERSON_ID}", json=body, **kwargs)


# -- OAuth -------------------------------------------------------------------------------
async def _login(client: httpx.AsyncClient, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "crmsync-demo-consumer-key",
        "redirect_uri": REDIRECT,
        "scope": "api refresh_token offline_access",
        "state": "st4te",
    }
    page = await client.get(f"{LOGIN}/services/oauth2/authorize", params=params)
    assert page.status_code == 200
    form = FormParser()
    form.feed(page.text)
    assert form.fields["username"] == "admin@crmsync-demo.test"
    data = {**form.fields, "decision": "allow", **overrides}
    return await client.post(f"{LOGIN}{form.action}", data=data)


async def test_web_server_flow_returns_instance_url_and_no_expiry(sf: Org) -> None:
    client = emulator_client(sf.app, LOGIN)
    wrong = await _login(client, password="nope")
    assert wrong.status_code == 200 and "check your username and password" in wrong.text
    answer = await _login(client)
    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st4te"]
    secret = "crmsync-demo-consumer-secret"
    token = await client.post(
        f"{LOGIN}/services/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "client_id": "crmsync-demo-consumer-key",
            "client_secret": secret,
            "redirect_uri": REDIRECT,
        },
    )
    body = token.json()
    assert token.status_code == 200
    assert set(body) == {
        "access_token",
        "refresh_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert body["instance_url"] == "https://crmsync-demo.my.salesforce.com"
    assert body["id"] == f"{LOGIN}/id/{sf.emulator.org_id}/{sf.emulator.admin_id}"
    assert body["access_token"].startswith(sf.emulator.org_id[:15] + "!")
    digest = hmac.new(secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256)
    assert body["signature"] == base64.b64encode(digest.digest()).decode()

    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": body["refresh_token"],
        "client_id": "crmsync-demo-consumer-key",
        "client_secret": secret,
    }
    rotated = await client.post(f"{LOGIN}/services/oauth2/token", data=refresh)
    assert rotated.json()["refresh_token"] != body["refresh_token"]
    assert "expires_in" not in rotated.json()
    again = await client.post(f"{LOGIN}/services/oauth2/token", data=refresh)
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    wrong_client = await client.post(
        f"{LOGIN}/services/oauth2/token", data={**refresh, "client_id": "other"}
    )
    assert wrong_client.json()["error"] == "invalid_client_id"


async def test_an_expired_session_and_an_unknown_version_get_salesforces_errors(sf: Org) -> None:
    sf.emulator.oauth.expire_access_tokens()
    expired = await sf.call("GET", "/sobjects/Lead/describe")
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    unknown = await sf.http.get("/services/data/v12.0/sobjects")
    assert unknown.status_code == 404
    assert unknown.json()[0]["errorCode"] == "NOT_FOUND"


# -- sObjects ----------------------------------------------------------------------------
async def test_create_read_update_with_salesforces_validation(sf: Org) -> None:
    missing = await sf.call("POST", "/sobjects/Lead", json={"FirstName": "Ada"})
    assert missing.status_code == 400
    assert missing.json() == [
        {
            "message": "Required fields are missing: [LastName, Company]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName", "Company"],
        }
    ]
    created = await sf.call("POST", "/sobjects/Lead", json={"LastName": "L", "Company": "C"})
    assert created.status_code == 201
    lead_id = created.json()["id"]
    assert lead_id.startswith("00Q") and len(lead_id) == 18
    assert created.json() == {"id": lead_id, "success": True, "errors": []}
    update = await sf.call("PATCH", f"/sobjects/Lead/{lead_id}", json={"Title": "CTO"})
    assert update.status_code == 204
    read = await sf.call("GET", f"/sobjects/Lead/{lead_id[:15]}", params={"fields": "Title,Status"})
    assert read.json() == {
        "attributes": {"type": "Lead", "url": f"{V}/sobjects/Lead/{lead_id}"},
        "Title": "CTO",
        "Status": "Open - Not Contacted",
    }
    read_only = await sf.call("PATCH", f"/sobjects/Lead/{lead_id}", json={"IsConverted": True})
    assert read_only.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    unknown = await sf.call("PATCH", f"/sobjects/Lead/{lead_id}", json={"Nope__c": 1})
    assert unknown.json()[0] == {
        "message": "No such column 'Nope__c' on sobject of type Lead",
        "errorCode": "INVALID_FIELD",
    }
    too_long = await sf.call("PATCH", f"/sobjects/Lead/{lead_id}", json={"Title": "x" * 129})
    assert too_long.json()[0]["errorCode"] == "STRING_TOO_LONG"


async def test_single_upsert_creates_updates_and_answers_300_on_several_matches(sf: Org) -> None:
    path = f"/sobjects/Lead/{PERSON_ID}/p1"
    first = await sf.call("PATCH", path, json={"LastName": "L", "Company": "C"})
    assert (first.status_code, first.json()["created"]) == (201, True)
    second = await sf.call("PATCH", path, json={"Title": "CTO"})
    assert (second.status_code, second.json()["created"]) == (200, False)
    in_body = await sf.call("PATCH", path, json={PERSON_ID: "p1"})
    assert in_body.status_code == 400

    tooling = {
        "FullName": "Lead.Legacy_Key__c",
        "Metadata": {"label": "Legacy Key", "type": "Text", "length": 20, "externalId": True},
    }
    assert (await sf.call("POST", "/tooling/sobjects/CustomField", json=tooling)).status_code == 201
    ids = []
    for _ in range(2):
        made = await sf.call(
            "POST", "/sobjects/Lead", json={"LastName": "L", "Company": "C", "Legacy_Key__c": "k"}
        )
        ids.append(made.json()["id"])
    several = await sf.call("PATCH", "/sobjects/Lead/Legacy_Key__c/k", json={"Title": "x"})
    assert several.status_code == 300
    assert several.json() == [f"{V}/sobjects/Lead/{i}" for i in ids]


async def test_collection_upsert_answers_per_record_in_order(sf: Org) -> None:
    answer = await upsert(sf, [lead("p1"), lead("p2", Email="not-an-email"), lead("p3")])
    assert answer.status_code == 200
    results = answer.json()
    assert [r["success"] for r in results] == [True, False, True]
    assert results[0]["created"] is True and results[0]["id"].startswith("00Q")
    assert results[1]["errors"] == [
        {
            "statusCode": "INVALID_EMAIL_ADDRESS",
            "message": "Email: invalid email address: not-an-email",
            "fields": ["Email"],
        }
    ]
    again = (await upsert(sf, [lead("p1", Title="CTO")])).json()
    assert again == [{"id": results[0]["id"], "success": True, "errors": [], "created": False}]
    twice = (await upsert(sf, [lead("p9"), lead("p9")])).json()
    assert [r["errors"][0]["statusCode"] for r in twice] == ["DUPLICATE_VALUE"] * 2
    too_many = await upsert(sf, [lead(f"x{i}") for i in range(201)])
    assert too_many.status_code == 400
    assert too_many.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


async def test_all_or_none_rolls_every_record_back(sf: Org) -> None:
    body = {"allOrNone": True, "records": [lead("p1"), lead("p2", Email="bad")]}
    answer = await sf.call("PATCH", f"/composite/sobjects/Lead/{PERSON_ID}", json=body)
    results = answer.json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert sf.emulator.records("Lead") == []


async def test_duplicate_rules_honour_the_allow_save_header_only_for_alerts(sf: Org) -> None:
    header = {"Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=true"}
    await upsert(sf, [lead("p1", Email="same@example.com")])
    sf.emulator.store.duplicate_rule = "alert"
    refused = (await upsert(sf, [lead("p2", Email="SAME@example.com")])).json()[0]
    error = refused["errors"][0]
    assert error["statusCode"] == "DUPLICATES_DETECTED"
    assert error["duplicateResult"]["duplicateRule"] == "Standard_Lead_Duplicate_Rule"
    assert error["duplicateResult"]["allowSave"] is True
    [match] = error["duplicateResult"]["matchResults"][0]["matchRecords"]
    assert match["record"]["Id"] == sf.emulator.records("Lead")[0]["Id"]
    saved = (await upsert(sf, [lead("p2", Email="same@example.com")], headers=header)).json()
    assert saved[0]["success"] is True

    sf.emulator.store.duplicate_rule = "block"
    blocked = (await upsert(sf, [lead("p3", Email="same@example.com")], headers=header)).json()
    assert blocked[0]["errors"][0]["duplicateResult"]["allowSave"] is False


async def test_a_converted_lead_refuses_updates_and_points_at_its_contact(sf: Org) -> None:
    [created] = (await upsert(sf, [lead("p1", Title="CTO", City="Paris")])).json()
    converted = await sf.http.post(f"/_emulator/leads/{created['id']}/convert", json={})
    contact_id = converted.json()["ConvertedContactId"]
    refused = (await upsert(sf, [lead("p1", Title="CEO")])).json()[0]
    assert refused["errors"][0] == {
        "statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
        "message": "cannot reference converted lead",
        "fields": [],
    }
    found = await sf.call(
        "GET",
        "/query",
        params={
            "q": f"SELECT ConvertedContactId FROM Lead WHERE {PERSON_ID} = 'p1' "
            "AND IsConverted = true"
        },
    )
    assert found.json()["records"][0]["ConvertedContactId"] == contact_id
    contact = (await sf.call("GET", f"/sobjects/Contact/{contact_id}")).json()
    assert (contact["Title"], contact["MailingCity"]) == ("CTO", "Paris")
    assert len(sf.emulator.records("Lead")) == 1


# -- query, tooling ----------------------------------------------------------------------
async def test_query_pages_through_next_records_url(sf: Org) -> None:
    for start in range(0, 450, 150):
        await upsert(sf, [lead(f"p{i:03d}") for i in range(start, start + 150)])
    q = f"SELECT Id, {PERSON_ID} FROM Lead ORDER BY {PERSON_ID} DESC"
    page = (
        await sf.call(
            "GET", "/query", params={"q": q}, headers={"Sforce-Query-Options": "batchSize=200"}
        )
    ).json()
    seen = [r[PERSON_ID] for r in page["records"]]
    assert (page["totalSize"], page["done"], len(seen)) == (450, False, 200)
    while not page["done"]:
        assert page["nextRecordsUrl"].startswith(f"{V}/query/01g")
        page = (await sf.http.get(page["nextRecordsUrl"])).json()
        seen += [r[PERSON_ID] for r in page["records"]]
    assert seen == [f"p{i:03d}" for i in range(449, -1, -1)]
    count = (await sf.call("GET", "/query", params={"q": "SELECT COUNT() FROM Lead"})).json()
    assert (count["totalSize"], count["records"]) == (450, [])
    stale = await sf.http.get(f"{V}/query/01gnope-200")
    assert stale.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    malformed = await sf.call("GET", "/query", params={"q": "SELECT FROM Lead"})
    assert malformed.status_code == 400 and malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
    unknown = await sf.call("GET", "/query", params={"q": "SELECT Id FROM Widget__c"})
    assert unknown.json()[0]["errorCode"] == "INVALID_TYPE"


async def test_tooling_creates_a_custom_field_once(sf: Org) -> None:
    body = {
        "FullName": "Lead.Score__c",
        "Metadata": {"label": "Score", "type": "Text", "length": 10},
    }
    created = await sf.call("POST", "/tooling/sobjects/CustomField", json=body)
    assert created.status_code == 201 and created.json()["id"].startswith("00N")
    fields = (await sf.call("GET", "/sobjects/Lead/describe")).json()["fields"]
    [score] = [f for f in fields if f["name"] == "Score__c"]
    assert (score["type"], score["length"], score["custom"]) == ("string", 10, True)
    again = await sf.call("POST", "/tooling/sobjects/CustomField", json=body)
    assert again.json()[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"
    bad = await sf.call(
        "POST", "/tooling/sobjects/CustomField", json={**body, "FullName": "Lead.Score"}
    )
    assert bad.json()[0]["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


# -- Bulk API 2.0 ------------------------------------------------------------------------
async def _job(sf: Org, data: str) -> str:
    spec = {
        "object": "Lead",
        "operation": "upsert",
        "contentType": "CSV",
        "externalIdFieldName": PERSON_ID,
        "lineEnding": "LF",
    }
    job = (await sf.call("POST", "/jobs/ingest", json=spec)).json()
    assert job["state"] == "Open"
    uploaded = await sf.call(
        "PUT",
        f"/jobs/ingest/{job['id']}/batches",
        content=data.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 201
    closed = await sf.call("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    assert closed.json()["state"] == "UploadComplete"
    return str(job["id"])


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_an_ingest_job_reports_successful_and_failed_rows(sf: Org) -> None:
    job_id = await _job(sf, f"{PERSON_ID},LastName,Company,Email\np1,L,C,\np2,L,C,bad\n")
    late = await sf.call(
        "PUT", f"/jobs/ingest/{job_id}/batches", content=b"x", headers={"Content-Type": "text/csv"}
    )
    assert late.status_code == 409 and late.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert (await sf.call("GET", f"/jobs/ingest/{job_id}")).json()["state"] == "InProgress"
    done = (await sf.call("GET", f"/jobs/ingest/{job_id}")).json()
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        1,
    )
    ok = await sf.call("GET", f"/jobs/ingest/{job_id}/successfulResults/")
    assert (
        ok.text.splitlines()[0]
        == f'"sf__Id","sf__Created","{PERSON_ID}","LastName","Company","Email"'
    )
    [row] = _csv(ok.text)
    assert (row[PERSON_ID], row["sf__Created"]) == ("p1", "true")
    assert row["sf__Id"] == sf.emulator.records("Lead")[0]["Id"]
    [failed] = _csv((await sf.call("GET", f"/jobs/ingest/{job_id}/failedResults/")).text)
    assert failed[PERSON_ID] == "p2"
    assert failed["sf__Error"].startswith("INVALID_EMAIL_ADDRESS:Email: invalid email address")


async def test_a_job_with_an_unknown_column_fails_with_every_row_unprocessed(sf: Org) -> None:
    job_id = await _job(sf, f"{PERSON_ID},LastName,Nope__c\np1,L,x\np2,L,y\n")
    await sf.call("GET", f"/jobs/ingest/{job_id}")
    info = (await sf.call("GET", f"/jobs/ingest/{job_id}")).json()
    assert info["state"] == "Failed"
    assert info["errorMessage"] == "InvalidBatch : Field name not found : Nope__c"
    rows = _csv((await sf.call("GET", f"/jobs/ingest/{job_id}/unprocessedrecords/")).text)
    assert [r[PERSON_ID] for r in rows] == ["p1", "p2"]


# -- limits and faults -------------------------------------------------------------------
async def test_the_daily_allocation_is_counted_enforced_and_renewed(
    sf: Org, clock: ManualClock
) -> None:
    sf.emulator.allocation.configure(max_requests=2, interval_seconds=3_600)
    first = await sf.call("GET", "/sobjects")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=1/2"
    await sf.call("GET", "/sobjects")
    refused = await sf.call("GET", "/sobjects")
    assert refused.status_code == 403
    assert refused.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert refused.headers["Sforce-Limit-Info"] == "api-usage=2/2"
    clock.advance(3_600)
    assert (await sf.call("GET", "/sobjects")).headers["Sforce-Limit-Info"] == "api-usage=1/2"


async def test_injected_faults_use_salesforces_bodies(sf: Org) -> None:
    sf.emulator.faults.configure(rates={"429": 1.0})
    busy = await sf.call("GET", "/sobjects")
    assert (busy.status_code, busy.json()[0]["message"]) == (
        403,
        "ConcurrentPerOrgLongTxn Limit exceeded.",
    )
    sf.emulator.faults.configure(rates={"500": 1.0})
    broken = await sf.call("GET", "/sobjects")
    assert broken.status_code == 500 and broken.json()[0]["errorCode"] == "UNKNOWN_EXCEPTION"
    assert sf.emulator.faults.counts()["429"] == 1


async def test_an_ingest_job_runs_an_assignment_rule_only_when_it_names_one(sf: Org) -> None:
    keeper = sf.emulator.add_user("keeper@acme.test", "Queue", "Keeper")
    rule = sf.emulator.set_assignment_rule(keeper)
    plain = await _job(sf, f"{PERSON_ID},LastName,Company\np1,L,C\n")
    assert (await sf.call("GET", f"/jobs/ingest/{plain}")).json().get("assignmentRuleId") is None
    spec = {
        "object": "Lead",
        "operation": "upsert",
        "externalIdFieldName": PERSON_ID,
        "assignmentRuleId": rule,
    }
    job = (await sf.call("POST", "/jobs/ingest", json=spec)).json()
    assert job["assignmentRuleId"] == rule
    await sf.call(
        "PUT",
        f"/jobs/ingest/{job['id']}/batches",
        content=f"{PERSON_ID},LastName,Company\np2,L,C\n".encode(),
        headers={"Content-Type": "text/csv"},
    )
    await sf.call("PATCH", f"/jobs/ingest/{job['id']}", json={"state": "UploadComplete"})
    owners = {row[PERSON_ID]: row["OwnerId"] for row in sf.emulator.records("Lead")}
    assert owners == {"p1": sf.emulator.admin_id, "p2": keeper}
    unknown = await sf.call("POST", "/jobs/ingest", json={**spec, "assignmentRuleId": "01Q"})
    assert unknown.status_code == 400 and unknown.json()[0]["errorCode"] == "INVALIDJOB"
