"""``GET /orgs/{org}/records/{entity}/{id}``: the org's view of one record."""

from __future__ import annotations

from crmsync.db.tables import OrgRecord
from tests.support.world import World


def test_record_shows_the_crm_value_for_crm_owned_fields_and_the_app_value_otherwise(
    team: World,
) -> None:
    team.connect("org1")
    team.person("p1", title="Engineer", first_name="Ada")
    team.unlock("org1", "p1", "u-admin")
    r = team.api.get("/api/v1/orgs/org1/records/contact/p1")
    assert r.status_code == 200, r.text
    view = r.json()
    assert view["fields"]["first_name"] == {"value": "Ada", "owner": "app", "changed_at": {}}
    crm_owned = [name for name, f in view["fields"].items() if f["owner"] == "hubspot"]
    assert crm_owned, view["fields"]
    with team.rt.db.session() as session:
        session.add(
            OrgRecord(
                org_id="org1",
                object_type="contact",
                local_id="p1",
                fields={name: f"from CRM {name}" for name in crm_owned},
                owner_crm_email="admin@acme.test",
                changed_at={name: {"crm": "2026-12-01T10:00:00Z"} for name in crm_owned},
            )
        )
    view = team.api.get("/api/v1/orgs/org1/records/contact/p1").json()
    for name in crm_owned:
        assert view["fields"][name]["value"] == f"from CRM {name}"
        assert view["fields"][name]["changed_at"] == {"crm": "2026-12-01T10:00:00Z"}
    assert view["active"] is True
    assert view["owner"]["crm_user_email"] == "admin@acme.test"


def test_record_is_404_for_an_org_that_has_not_unlocked_the_person(team: World) -> None:
    team.person("p1")
    team.unlock("org1", "p1", "u-admin")
    assert team.api.get("/api/v1/orgs/org2/records/contact/p1").status_code == 404
    assert team.api.get("/api/v1/orgs/org1/records/contact/nobody").status_code == 404
    assert team.api.get("/api/v1/orgs/org1/records/company/c1").status_code == 404
    assert team.api.get("/api/v1/orgs/org1/records/contact/p1").status_code == 200
