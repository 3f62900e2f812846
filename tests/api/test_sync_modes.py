"""Import and export modes through the host API and a real run against the HubSpot emulator."""

from __future__ import annotations

from sqlalchemy import select

from crmsync.db.tables import Link, OrgRecord, Unlock, WebhookDelivery
from tests.api.conftest import RowCounts
from tests.conformance.views import changes, crm_record
from tests.support.world import World

CONNECTION = "/api/v1/orgs/org1/connection"


def connected(team: World) -> World:
    team.connect("org1")
    team.person("p1", first_name="Grace", last_name="Hopper", title="Admiral")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    team.sync_back()
    return team


def test_modes_default_to_todays_behaviour_and_are_set_by_patch(team: World) -> None:
    connected(team)
    assert (team.status()["import_mode"], team.status()["export_mode"]) == (
        "match_existing",
        "all",
    )
    r = team.api.patch(
        CONNECTION, json={"import_mode": "create_new", "export_mode": "match_existing_import_new"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["import_mode"], r.json()["export_mode"]) == (
        "create_new",
        "match_existing_import_new",
    )
    assert team.status()["import_mode"] == "create_new"


def test_an_unknown_mode_is_refused_and_writes_nothing(team: World, rows: RowCounts) -> None:
    connected(team)
    before, status = rows(), team.status()
    for body in (
        {"import_mode": "everything"},
        {"export_mode": "all", "import_mode": 3},
        {"export_mode": "sometimes", "sync_interval_minutes": 60},
    ):
        r = team.api.patch(CONNECTION, json=body)
        assert r.status_code == 422, r.text
    assert rows() == before
    after = team.status()
    assert (after["import_mode"], after["export_mode"]) == ("match_existing", "all")
    assert after["sync"]["interval_minutes"] == status["sync"]["interval_minutes"]


def test_create_new_makes_a_crm_record_a_new_app_contact_told_by_feed_and_webhook(
    team: World,
) -> None:
    connected(team)
    r = team.api.post("/api/v1/orgs/org1/webhooks", json={"url": "https://host.test/hooks"})
    assert r.status_code == 201, r.text
    made = {"first_name": "Alan", "last_name": "Turing", "email": "alan@bletchley.test"}
    team.harness.create_by_hand(made)
    team.sync_back()
    assert changes(team) == [], "match existing (the default): an unmatched record is ignored"
    assert team.api.patch(CONNECTION, json={"import_mode": "create_new"}).status_code == 200
    team.sync_back(full=True)
    (created,) = changes(team)
    assert created["kind"] == "created"
    assert created["fields"]["email"] == "alan@bletchley.test"
    assert created["fields"]["last_name"] == "Turing"
    with team.rt.db.session() as session:
        record = session.get_one(OrgRecord, ("org1", "contact", created["record_id"]))
        assert record.fields["first_name"] == "Alan"
        assert session.scalars(select(WebhookDelivery)).all(), "a signed delivery is pending"
    writes = team.harness.write_calls()
    team.sync_back(full=True)
    assert len(changes(team)) == 1, "created once"
    assert team.harness.write_calls() == writes


def test_match_existing_links_an_unlinked_crm_record_by_email(team: World) -> None:
    team.connect("org1")
    crm_id = team.harness.create_by_hand(
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@navy.test"}
    )
    team.person("p9", first_name="Grace", last_name="Hopper", emails=["Grace@Navy.test"])
    with team.rt.db.session() as session:  # the org has the contact; no push queued yet
        session.add(Unlock(org_id="org1", person_id="p9", user_id="u-admin"))
    team.sync_back(full=True)
    with team.rt.db.session() as session:
        links = session.scalars(select(Link).where(Link.local_id == "p9")).all()
    assert [link.crm_id for link in links] == [crm_id]
    assert crm_record(team, "p9").crm_id == crm_id, "the app's Person ID written back on it"


def test_match_existing_import_new_never_updates_an_existing_crm_record(team: World) -> None:
    connected(team)
    assert crm_record(team, "p1").values["title"] == "Admiral"
    r = team.api.patch(CONNECTION, json={"export_mode": "match_existing_import_new"})
    assert r.status_code == 200, r.text
    writes = team.harness.write_calls()
    team.person("p1", first_name="Grace", last_name="Hopper", title="Commodore")
    team.drain()
    assert team.harness.write_calls() == writes
    assert crm_record(team, "p1").values["title"] == "Admiral"
    latest = team.operations()[0]
    assert latest["status"] == "unchanged" and "export mode" in latest["reason"]
    team.person("p2", first_name="Ada", title="Countess")
    team.unlock("org1", "p2", "u-admin")
    team.drain()
    assert crm_record(team, "p2").values["title"] == "Countess", "a missing one is inserted"
