"""crmsync against the Close emulator, end to end: what lands in Close, in how many calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmsync.providers.close.emulator import CloseEmulator
from crmsync.providers.close.emulator.harness import CloseHarness
from tests.support.world import World, world


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "close") as instance:
        instance.org("org1", {"u-admin": "admin@acme.test", "u-member": "member@acme.test"})
        instance.crm_admin_id = instance.harness.add_user("admin@acme.test", "Ann", "Admin")
        yield instance


def _close(w: World) -> CloseEmulator:
    harness = w.harness
    assert isinstance(harness, CloseHarness)
    return harness.emulator


def _leads(w: World) -> list[dict[str, Any]]:
    close = _close(w)
    leads, _ = close.store.page(close.organization_id, "lead", 0, 10_000)
    return leads


def _lead_of(w: World, person_id: str) -> dict[str, Any]:
    [record] = w.records_by_person()[person_id]
    [lead] = [lead for lead in _leads(w) if record.crm_id in {c["id"] for c in lead["contacts"]}]
    return lead


def _calls(w: World, endpoint: str) -> int:
    return _close(w).counters.get(*endpoint.split(" ", 1))


def _field_id(w: World, name: str) -> str:
    close = _close(w)
    [found] = [f.id for f in close.store.custom_fields(close.organization_id) if f.name == name]
    return found


def test_a_person_with_a_company_becomes_a_lead_named_after_it(w: World) -> None:
    w.connect("org1")
    w.person(
        "p1",
        first_name="Grace",
        last_name="Hopper",
        company="Navy",
        title="Admiral",
        phones=["+1 555 0100"],
        city="Arlington",
        country="US",
        linkedin_url="https://www.linkedin.com/in/grace",
    )
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    lead = _lead_of(w, "p1")
    assert lead["name"] == "Navy"
    assert lead["addresses"] == [{"label": "business", "city": "Arlington", "country": "US"}]
    [contact] = lead["contacts"]
    assert contact["name"] == "Grace Hopper"
    assert contact["title"] == "Admiral"
    assert contact["emails"] == [{"email": "p1@example.com", "type": "office"}]
    assert contact["phones"] == [{"phone": "+1 555 0100", "type": "office"}]
    assert contact["urls"] == [{"url": "https://www.linkedin.com/in/grace", "type": "url"}]
    assert contact[f"custom.{_field_id(w, 'Acme Person ID')}"] == "p1"
    assert contact[f"custom.{_field_id(w, 'Acme Profile URL')}"].endswith("/p1")


def test_a_person_without_a_company_becomes_a_lead_named_after_them(w: World) -> None:
    w.connect("org1")
    w.person("p1", first_name="Ada", last_name="Lovelace", company=None, country="England")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    lead = _lead_of(w, "p1")
    assert lead["name"] == "Ada Lovelace"
    assert lead["addresses"] == []  # Close takes ISO country codes only: "England" is left out
    assert w.records_by_person()["p1"][0].values["company"] is None


def test_a_refresh_updates_the_contact_and_leaves_a_renamed_lead_alone(w: World) -> None:
    w.connect("org1")
    w.person("p1", company="Old Co", title="Engineer")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    [record] = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "company", "Merged Into Big Co")
    writes = w.harness.write_calls()
    w.person("p1", company="New Co", title="CTO", city="Paris")
    w.drain()
    lead = _lead_of(w, "p1")
    assert lead["name"] == "Merged Into Big Co"
    assert lead["addresses"] == []
    assert lead["contacts"][0]["title"] == "CTO"
    assert w.harness.write_calls() == writes + 1
    assert _calls(w, "PUT /api/v1/lead/{lead_id}/") == 0
    [op, _] = w.operations(person_id="p1")
    assert op["status"] == "updated"
    assert op["response_summary"]["lead_left_alone"] == ["city", "name"]


def test_a_create_whose_answer_was_lost_is_found_on_retry_not_made_twice(w: World) -> None:
    w.connect("org1")
    close = _close(w)
    close.policy.fault_scope = frozenset({"POST /api/v1/lead/"})
    close.faults.configure(rates={"timeout_after": 1.0})
    w.person("p1", title="Engineer")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    assert close.faults.counts()["timeout_after"] == 1
    leads = _leads(w)
    assert len(leads) == 1
    assert len(leads[0]["contacts"]) == 1
    assert len(w.records_by_person()["p1"]) == 1
    assert _calls(w, "POST /api/v1/lead/") == 1
    assert _calls(w, "POST /api/v1/data/search/") == 2  # the retry looked before creating
    [op] = w.operations(person_id="p1")
    assert (op["status"], op["attempts"]) == ("inserted", 2)
    assert op["response_summary"]["found_by_person_id"] is True


def test_the_owner_field_holds_the_close_user_whose_email_matches(w: World) -> None:
    w.connect("org1")
    for person_id, user in (("p1", "u-admin"), ("p2", "u-member")):
        w.person(person_id)
        w.unlock("org1", person_id, user)
    w.drain()
    owner = f"custom.{_field_id(w, 'Acme Owner')}"
    person_id = f"custom.{_field_id(w, 'Acme Person ID')}"
    contacts = {c[person_id]: c for lead in _leads(w) for c in lead["contacts"]}
    assert contacts["p1"][owner] == w.crm_admin_id
    assert contacts["p1"]["custom"]["Acme Owner"] == w.crm_admin_id
    assert owner not in contacts["p2"]  # member@acme.test is no Close user: left empty
    assert w.records_by_person()["p2"][0].owner_id is None


def test_first_writes_of_a_batch_share_one_search(w: World) -> None:
    for i in range(5):
        w.person(f"p{i}")
        w.unlock("org1", f"p{i}", "u-admin")
    w.connect("org1")
    w.drain()
    assert sorted(w.records_by_person()) == [f"p{i}" for i in range(5)]
    assert _calls(w, "POST /api/v1/data/search/") == 1
    assert _calls(w, "POST /api/v1/lead/") == 5


def test_a_429_with_rate_reset_is_waited_out_not_failed(w: World) -> None:
    w.connect("org1")
    close = _close(w)
    close.limiter.configure(interval_seconds=0.2)  # the injected 429s say rate_reset=0.2
    close.faults.configure(burst_429=2)
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    started = time.monotonic()
    w.drain()
    assert time.monotonic() - started >= 0.4
    assert close.faults.counts()["429"] == 2
    [op] = w.operations(person_id="p1")
    assert (op["status"], op["attempts"]) == ("inserted", 1)


def test_closes_own_429s_are_waited_out_when_crmsync_paces_too_fast(w: World) -> None:
    w.settings.provider_overrides["close"]["rate_limit_requests"] = 1000
    w.connect("org1")
    _close(w).limiter.configure(max_requests=2, interval_seconds=0.2)
    refused = w.rt.calls.snapshot().get(("close", 429), 0)
    for i in range(6):
        w.person(f"p{i}")
        w.unlock("org1", f"p{i}", "u-admin")
    w.drain()
    assert w.rt.calls.snapshot().get(("close", 429), 0) > refused
    assert {(op["status"], op["attempts"]) for op in w.operations()} == {("inserted", 1)}
    assert len(w.records_by_person()) == 6


def test_changing_one_name_part_keeps_the_other(w: World) -> None:
    w.connect("org1")
    w.person("p1", first_name="Ada", last_name="Lovelace")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    w.person("p1", first_name="Ada", last_name="King")
    w.drain()
    assert _lead_of(w, "p1")["contacts"][0]["name"] == "Ada King"
    assert _calls(w, "GET /api/v1/contact/{contact_id}/") == 1


def test_a_record_close_rejects_fails_with_closes_field_errors(w: World) -> None:
    w.connect("org1")
    w.person("bad", phones=["call me"])
    w.person("good")
    for person_id in ("bad", "good"):
        w.unlock("org1", person_id, "u-admin")
    w.drain()
    [op] = w.operations(person_id="bad")
    assert op["status"] == "failed"
    assert "Close rejected the values" in op["reason"]
    assert "contacts.0.phones.0.phone: Invalid phone number." in op["reason"]
    assert sorted(w.records_by_person()) == ["good"]


def test_the_organization_chosen_on_the_consent_page_is_the_connected_account(w: World) -> None:
    close = _close(w)
    sandbox = list(close.store.organizations)[1]
    w.harness.consent_choices = {"organization_id": sandbox}
    status = w.connect("org1")
    assert status["account_id"] == sandbox
    sandbox_fields = {f.name for f in close.store.custom_fields(sandbox)}
    assert sandbox_fields == {"Acme Person ID", "Acme Profile URL", "Acme Owner"}
    assert close.store.custom_fields(close.organization_id) == []
