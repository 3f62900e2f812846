"""Backfills through Bulk API 2.0: one job, per-person results, and the rows a job refuses."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import insert

from crmsync.db.tables import Person, Unlock
from crmsync.engine.lease import Lease
from crmsync.providers.salesforce import bulk
from crmsync.providers.salesforce.connector import SalesforceConnector
from crmsync.providers.salesforce.emulator.store import WriteContext
from crmsync.providers.salesforce.spec import SPEC
from tests.providers.salesforce.conftest import calls, leads, operations_of, org
from tests.support.world import World

PERSON_ID = "Acme_Person_ID__c"
JOBS = "POST /jobs/ingest"
UPSERT = "PATCH /composite/sobjects/{sobject}/{field}"


def _seed(w: World, count: int, **special: dict[str, object]) -> list[str]:
    """``count`` people unlocked by the admin, straight into the host's tables."""
    ids = [f"p{i:05d}" for i in range(count)]
    rows = [
        {
            "person_id": pid,
            "first_name": "Person",
            "last_name": f"Number {pid}",
            "emails": [f"{pid}@example.com"],
            "phones": [],
            "company": "Example",
            "title": "Engineer",
            "content_hash": "seed",
            **special.get(pid, {}),
        }
        for pid in ids
    ]
    with w.rt.db.session() as session:
        session.execute(insert(Person), rows)
        session.execute(
            insert(Unlock), [{"org_id": "org1", "person_id": p, "user_id": "u-admin"} for p in ids]
        )
    return ids


def _hand_made_lead(w: World, **fields: object) -> dict[str, object]:
    values = {"LastName": "Made", "Company": "By Hand", **fields}
    return org(w).store.create("Lead", values, WriteContext(org(w).admin_id, manual=True))


def _statuses(w: World) -> Counter[str]:
    return Counter(op.status for op in operations_of(w))


def test_a_20000_person_backfill_goes_through_bulk_jobs_with_per_person_results(
    w: World,
) -> None:
    converted = _hand_made_lead(w, **{PERSON_ID: "p00001"})
    contact_id = org(w).convert_lead(str(converted["Id"]))["ConvertedContactId"]
    blocker = _hand_made_lead(w, Email="taken@example.com")
    org(w).store.duplicate_rule = "block"
    _seed(
        w,
        20_000,
        p00000={"emails": ["not-an-email"]},
        p00002={"emails": ["taken@example.com"]},
    )
    w.connect("org1")
    w.drain()

    assert calls(w, JOBS) == 20_000 // SPEC.bulk_max, "full jobs of bulk_max people"
    assert calls(w, UPSERT) == 1, "only the refused rows go again, through one collection call"
    assert _statuses(w) == {"inserted": 19_997, "updated": 1, "failed": 2}
    by_person = {op.local_id: op for op in operations_of(w)}
    stored = {lead[PERSON_ID]: lead["Id"] for lead in leads(w) if lead.get(PERSON_ID)}
    assert by_person["p12345"].crm_id == stored["p12345"]
    assert by_person["p12345"].response_summary["job"]
    assert by_person["p00000"].code == "INVALID_EMAIL_ADDRESS"
    assert "invalid email address: not-an-email" in by_person["p00000"].reason
    assert by_person["p00002"].code == "DUPLICATES_DETECTED"
    assert "Standard_Lead_Duplicate_Rule" in by_person["p00002"].reason
    assert str(blocker["Id"]) in by_person["p00002"].reason
    assert (by_person["p00001"].status, by_person["p00001"].crm_id) == ("updated", contact_id)
    assert org(w).store.get("Contact", str(contact_id))["Title"] == "Engineer"
    assert len(stored) == 19_998  # 19,997 new leads and the converted one
    assert w.status()["counts"]["pending"] == 0


@pytest.fixture
def small_bulk(w: World, monkeypatch: pytest.MonkeyPatch) -> World:
    """Bulk jobs from five due backfill items on, so a test needs only a few people (the
    engine reads the threshold from the connector class's spec)."""
    monkeypatch.setattr(SalesforceConnector, "spec", replace(SPEC, bulk_threshold=5))
    monkeypatch.setattr(bulk, "FIRST_POLL", 0.01)
    return w


def test_rows_a_failed_job_never_processed_are_retried_and_land(
    small_bulk: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = small_bulk
    renewals: list[str] = []
    renew = Lease.renew

    def counted(lease: Lease) -> None:
        renewals.append(lease.connection_id)
        renew(lease)

    monkeypatch.setattr(Lease, "renew", counted)
    org(w).jobs.fail_after = 3
    org(w).jobs.polls_in_progress = 2
    ids = _seed(w, 10)
    w.connect("org1")
    w.runner.run(w.connection().id, budget_seconds=60)

    statuses = {op.local_id: op for op in operations_of(w)}
    assert Counter(op.status for op in statuses.values()) == {"inserted": 3, "retrying": 7}
    retrying = next(op for op in statuses.values() if op.status == "retrying")
    assert "the bulk job ended Failed before this record" in retrying.reason
    assert len(renewals) >= 4, "the job's polls must keep the lease alive"

    org(w).jobs.fail_after = None
    w.drain()
    assert _statuses(w) == {"inserted": 10}
    assert sorted(w.records_by_person()) == ids


def test_alert_rule_duplicates_refused_by_a_job_are_saved_through_the_rest_api(
    small_bulk: World,
) -> None:
    w = small_bulk
    _hand_made_lead(w, Email="p00003@example.com")
    org(w).store.duplicate_rule = "alert"
    _seed(w, 6)
    w.connect("org1")
    w.drain()
    assert calls(w, JOBS) == 1 and calls(w, UPSERT) == 1
    assert _statuses(w) == {"inserted": 6}
    assert len([lead for lead in leads(w) if lead["Email"] == "p00003@example.com"]) == 2


def test_uploads_split_below_the_size_limit_with_a_header_each_and_every_row_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from crmsync.domain.writes import RecordWrite

    monkeypatch.setattr(bulk, "MAX_UPLOAD_BYTES", 400)
    writes = [
        RecordWrite(
            local_id=f"p{i:03d}",
            fields={"LastName": f"Last, {i}", "Title": None if i % 2 else "Engineer"},
            crm_id=None,
            first_write=True,
        )
        for i in range(25)
    ]
    connector = SimpleNamespace(client=None, id_field=PERSON_ID)
    uploads = bulk.BulkUpsert(connector, heartbeat=None)._uploads(writes)  # type: ignore[arg-type]
    assert len(uploads) > 1
    rows: list[dict[str, str]] = []
    for chunk, data in uploads:
        assert len(data) <= 400
        parsed = list(csv.DictReader(io.StringIO(data.decode())))
        assert [r[PERSON_ID] for r in parsed] == [w.local_id for w in chunk]
        rows += parsed
    assert [r[PERSON_ID] for r in rows] == [w.local_id for w in writes]
    assert rows[3]["LastName"] == "Last, 3" and rows[3]["Title"] == "#N/A"


def test_bulk_jobs_run_no_assignment_rule_so_crmsync_owners_stay(small_bulk: World) -> None:
    """A job runs a lead assignment rule only when it names one (``assignmentRuleId``);
    crmsync's name none, so the org's active rule leaves their owners alone."""
    w = small_bulk
    elsewhere = org(w).add_user("queue-keeper@acme.test", "Queue", "Keeper")
    org(w).set_assignment_rule(elsewhere)
    _seed(w, 6)
    w.connect("org1")
    w.drain()
    assert calls(w, JOBS) == 1
    assert {lead["OwnerId"] for lead in leads(w)} == {w.crm_admin_id}
