"""Preview and test (``POST /connection/preview``) against the HubSpot emulator: the decision
the run makes, field by field, with no write to either side; ``run`` does it and logs it."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import RowCounts
from tests.conformance.views import changes, crm_record
from tests.support.world import World

PREVIEW = "/api/v1/orgs/org1/connection/preview"


def connected(team: World) -> World:
    team.connect("org1")
    team.person("p1", first_name="Grace", last_name="Hopper", title="Admiral")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    team.sync_back()
    return team


def ask(w: World, **body: Any) -> dict[str, Any]:
    r = w.api.post(PREVIEW, json=body)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def by_field(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["app_field"]: row for row in answer["fields"]}


def test_an_export_preview_shows_the_runs_decision_and_writes_nothing(
    team: World, rows: RowCounts
) -> None:
    connected(team)
    team.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    writes, before = team.harness.write_calls(), rows()
    answer = ask(team, direction="export", person_id="p1")
    assert team.harness.write_calls() == writes, "no write to the CRM"
    assert rows() == before, "no write to crmsync's database"
    assert (answer["status"], answer["ran"], answer["mode"]) == ("updated", False, "all")
    title = by_field(answer)["title"]
    assert (title["value"], title["outcome"]) == ("Commodore", "sent")
    assert by_field(answer)["last_name"]["outcome"] == "not_sent"
    assert crm_record(team, "p1").values["title"] == "Admiral"
    team.drain()
    assert team.operations()[0]["status"] == "updated", "the run agrees"


def test_export_run_writes_the_contact_and_logs_it_at_the_top(team: World) -> None:
    connected(team)
    team.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    answer = ask(team, direction="export", person_id="p1", run=True)
    assert answer["ran"] and answer["result"]["status"] == "updated"
    assert crm_record(team, "p1").values["title"] == "Commodore"
    assert team.operations()[0]["id"] == answer["operation_id"]


def test_an_export_preview_names_the_mode_that_holds_a_write_back(team: World) -> None:
    connected(team)
    body = {"export_mode": "match_existing_import_new"}
    team.api.patch("/api/v1/orgs/org1/connection", json=body)
    team.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    answer = ask(team, direction="export", person_id="p1")
    assert answer["status"] == "ignored"
    assert "match_existing_import_new" in answer["reason"]
    team.person("p2", first_name="Ada", title="Countess")
    team.unlock("org1", "p2", "u-admin")
    new = ask(team, direction="export", person_id="p2")
    assert new["status"] == "upserted", "HubSpot upserts by Person ID"
    assert by_field(new)["title"]["outcome"] == "sent"


def test_an_import_preview_follows_the_import_mode_and_writes_nothing(
    team: World, rows: RowCounts
) -> None:
    connected(team)
    crm_id = team.harness.create_by_hand(
        {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.test"}
    )
    writes, before = team.harness.write_calls(), rows()
    ignored = ask(team, direction="import", crm_id=crm_id)
    assert ignored["status"] == "ignored" and "match_existing" in ignored["reason"]
    assert (
        team.api.patch(
            "/api/v1/orgs/org1/connection", json={"import_mode": "create_new"}
        ).status_code
        == 200
    )
    before = rows()
    inserted = ask(team, direction="import", crm_id=crm_id)
    assert inserted["status"] == "inserted"
    assert by_field(inserted)["last_name"] == {
        "app_field": "last_name",
        "crm_field": by_field(inserted)["last_name"]["crm_field"],
        "value": "Turing",
        "outcome": "taken",
        "reason": "a new record",
    }
    assert team.harness.write_calls() == writes and rows() == before
    assert changes(team) == []


def test_import_run_takes_the_record_in_and_logs_it_at_the_top(team: World) -> None:
    connected(team)
    team.api.patch("/api/v1/orgs/org1/connection", json={"import_mode": "create_new"})
    crm_id = team.harness.create_by_hand({"first_name": "Alan", "email": "alan@bletchley.test"})
    answer = ask(team, direction="import", crm_id=crm_id, run=True)
    assert answer["ran"] and answer["status"] == "inserted"
    (created,) = changes(team)
    assert created["kind"] == "created" and answer["person_id"] == created["record_id"]
    top = team.operations()[0]
    assert (top["id"], top["lane"], top["crm_id"]) == (answer["operation_id"], "import", crm_id)
    again = ask(team, direction="import", crm_id=crm_id)
    assert again["status"] == "unchanged", "linked now: nothing changed since"


def test_an_import_preview_of_an_app_owned_edit_says_it_goes_back(team: World) -> None:
    connected(team)
    record = crm_record(team, "p1")
    team.harness.manual_edit(record.crm_id, "title", "Pirate")
    answer = ask(team, direction="import", crm_id=record.crm_id)
    assert answer["status"] == "unchanged" and answer["person_id"] == "p1"
    title = by_field(answer)["title"]
    assert (title["value"], title["outcome"]) == ("Pirate", "written_back")
    assert "app owns" in title["reason"]


def test_bad_previews_are_refused_and_write_nothing(team: World, rows: RowCounts) -> None:
    connected(team)
    crm_id = crm_record(team, "p1").crm_id
    writes, before = team.harness.write_calls(), rows()
    for body, status in (
        ({"direction": "export", "person_id": "p1", "crm_id": crm_id}, 422),
        ({"direction": "export"}, 422),
        ({"direction": "import", "crm_id": crm_id, "person_id": "p1"}, 422),
        ({"direction": "import", "person_id": "p1"}, 422),
        ({"direction": "sideways", "person_id": "p1"}, 422),
        ({"direction": "export", "person_id": "p1", "extra": 1}, 422),
        ({"direction": "export", "person_id": "nobody", "run": True}, 404),
        ({"direction": "import", "crm_id": "999999999", "run": True}, 404),
    ):
        r = team.api.post(PREVIEW, json=body)
        assert r.status_code == status, (body, r.text)
    assert team.harness.write_calls() == writes and rows() == before
    r = team.api.post("/api/v1/orgs/nobody/connection/preview", json={"direction": "export"})
    assert r.status_code in (404, 422)


def test_an_export_run_that_does_not_land_is_reported_failed_with_the_crms_reason(
    team: World,
) -> None:
    connected(team)
    team.harness.set_faults({"500": 1.0})
    team.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    answer = ask(team, direction="export", person_id="p1", run=True)
    team.harness.set_faults({})
    assert answer["ran"] and answer["status"] == "failed", answer
    assert answer["result"]["status"] != "updated" and answer["reason"]
    assert team.operations()[0]["id"] == answer["operation_id"]
