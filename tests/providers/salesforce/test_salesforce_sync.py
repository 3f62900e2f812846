"""crmsync against the Salesforce emulator, end to end: what lands in the org, how, and why not."""

from __future__ import annotations

from sqlalchemy import select

from crmsync.db.tables import Link, LinkAlias
from crmsync.domain.enums import ConnectionStatus
from crmsync.domain.keys import CONTACT, RecordKey
from crmsync.engine.links import link_for_crm_id
from crmsync.providers.salesforce.mapping import NOT_PROVIDED
from tests.providers.salesforce.conftest import (
    calls,
    harness,
    leads,
    org,
)
from tests.support.world import World

UPSERT = "PATCH /composite/sobjects/{sobject}/{field}"
UPDATE = "PATCH /composite/sobjects"
TOOLING = "POST /tooling/sobjects/CustomField"
PERSON_ID, PROFILE_URL = "Acme_Person_ID__c", "Acme_Profile_URL__c"


def _sync(w: World, person_id: str, **fields: object) -> None:
    w.person(person_id, **fields)
    w.unlock("org1", person_id, "u-admin")
    w.drain()


def _lead(w: World, person_id: str) -> dict[str, object]:
    [lead] = [lead for lead in leads(w) if lead.get(PERSON_ID) == person_id]
    return lead


def test_missing_fields_make_setup_required_until_the_admin_lets_crmsync_create_them(
    w: World,
) -> None:
    harness(w).uninstall_package()
    w.person("p1")
    w.unlock("org1", "p1", "u-admin")
    status = w.connect("org1")
    assert status["status"] == ConnectionStatus.SETUP_REQUIRED
    assert status["setup"]["missing"] == [f"Lead.{PERSON_ID}", f"Lead.{PROFILE_URL}"]
    assert "installPackage.apexp" in status["status_reason"]
    assert "allow crmsync to create the fields" in status["status_reason"]
    w.drain()
    assert leads(w) == [] and calls(w, TOOLING) == 0

    r = w.api.post("/api/v1/orgs/org1/connection/setup", json={"create_missing_fields": True})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == ConnectionStatus.CONNECTED
    assert r.json()["setup"]["created"] == [f"Lead.{PERSON_ID}", f"Lead.{PROFILE_URL}"]
    assert calls(w, TOOLING) == 2
    lead_type = org(w).store.objects["Lead"]
    person_field = lead_type.field(PERSON_ID)
    assert person_field is not None and person_field.external_id and person_field.unique
    w.drain()
    assert _lead(w, "p1")[PROFILE_URL] == "https://app.example.com/people/p1"


def test_a_person_without_last_name_or_company_gets_not_provided(w: World) -> None:
    w.connect("org1")
    _sync(w, "p1", last_name=None, company=None, first_name="Cher")
    lead = _lead(w, "p1")
    assert (lead["FirstName"], lead["LastName"], lead["Company"]) == (
        "Cher",
        NOT_PROVIDED,
        NOT_PROVIDED,
    )
    w.person("p1", last_name="Sarkisian", company=None, first_name="Cher")
    w.drain()
    lead = _lead(w, "p1")
    assert (lead["LastName"], lead["Company"]) == ("Sarkisian", NOT_PROVIDED)


def test_an_alert_duplicate_rule_lets_the_lead_save(w: World) -> None:
    w.connect("org1")
    org(w).store.duplicate_rule = "alert"
    w.harness.create_by_hand({"last_name": "Made", "email": "dup@example.com"})
    _sync(w, "p1", emails=["dup@example.com"])
    [op] = w.operations(person_id="p1")
    assert op["status"] == "inserted"
    assert len([lead for lead in leads(w) if lead["Email"] == "dup@example.com"]) == 2


def test_a_blocking_duplicate_rule_fails_the_lead_naming_the_rule(w: World) -> None:
    w.connect("org1")
    store = org(w).store
    store.duplicate_rule, store.duplicate_rule_name = "block", "Block_Leads_With_Same_Email"
    existing = w.harness.create_by_hand({"last_name": "Made", "email": "dup@example.com"})
    _sync(w, "p1", emails=["dup@example.com"])
    [op] = w.operations(person_id="p1")
    assert op["status"] == "failed"
    assert op["code"] == "DUPLICATES_DETECTED"
    assert "'Block_Leads_With_Same_Email'" in op["reason"]
    assert existing in op["reason"]
    assert "p1" not in w.records_by_person()
    assert any("duplicate rule" in advice for advice in w.status()["recommendations"])


def test_a_refresh_of_a_converted_lead_updates_its_contact_and_creates_no_lead(w: World) -> None:
    w.connect("org1")
    _sync(w, "p1", title="Engineer", city="London")
    lead_id = str(_lead(w, "p1")["Id"])
    converted = org(w).convert_lead(lead_id)
    contact_id = str(converted["ConvertedContactId"])

    w.person("p1", title="CTO", city="Paris")
    w.drain()
    contact = org(w).store.get("Contact", contact_id)
    assert (contact["Title"], contact["MailingCity"]) == ("CTO", "Paris")
    assert len(leads(w)) == 1 and _lead(w, "p1")["Title"] == "Engineer"
    latest = w.operations(person_id="p1")[0]
    assert (latest["status"], latest["crm_id"]) == ("updated", contact_id)

    upserts = calls(w, UPSERT)
    w.person("p1", title="CEO", city="Paris")
    w.drain()  # the link now holds the contact id: straight to the Contact
    assert org(w).store.get("Contact", contact_id)["Title"] == "CEO"
    assert calls(w, UPSERT) == upserts
    assert len(leads(w)) == 1


def test_a_followed_lead_leaves_its_link_on_the_contact_and_the_lead_id_as_an_alias(
    w: World,
) -> None:
    w.connect("org1")
    _sync(w, "p1", title="Engineer")
    lead_id = str(_lead(w, "p1")["Id"])
    contact_id = str(org(w).convert_lead(lead_id)["ConvertedContactId"])
    w.person("p1", title="CTO")
    w.drain()
    conn_id = w.connection().id
    p1 = RecordKey(conn_id, CONTACT, "p1")
    with w.rt.db.session() as session:
        link = session.scalars(select(Link).where(Link.local_id == "p1")).one()
        aliases = session.execute(select(LinkAlias.crm_object, LinkAlias.crm_id, LinkAlias.reason))
        assert (link.crm_object, link.crm_id) == ("Contact", contact_id)
        assert [tuple(a) for a in aliases] == [("Lead", lead_id, "converted")]
        assert link_for_crm_id(session, conn_id, "Lead", lead_id) == p1
        assert link_for_crm_id(session, conn_id, "Contact", contact_id) == p1
        assert link_for_crm_id(session, conn_id, "Lead", contact_id) is None


def test_two_leads_converted_into_one_contact_keep_one_link_on_it(w: World) -> None:
    """A link is unique on the CRM side too: the second person's link stays on its lead
    (and is followed again next time) rather than failing the whole batch."""
    w.connect("org1")
    _sync(w, "p1", title="Engineer")
    _sync(w, "p2", title="Designer")
    contact_id = str(org(w).convert_lead(str(_lead(w, "p1")["Id"]))["ConvertedContactId"])
    p2_lead = str(_lead(w, "p2")["Id"])
    org(w).convert_lead(p2_lead)
    org(w).store.rows["Lead"][p2_lead]["ConvertedContactId"] = contact_id  # merged on convert
    w.person("p1", title="CTO")
    w.person("p2", title="CDO")
    w.drain()
    with w.rt.db.session() as session:
        links = {r[0]: r[1] for r in session.execute(select(Link.local_id, Link.crm_id))}
    assert sorted(links.values()) == sorted([contact_id, p2_lead])
    assert org(w).store.get("Contact", contact_id)["Title"] in ("CTO", "CDO")
    assert [op["status"] for op in w.operations()][:2] == ["updated", "updated"]


def test_converted_leads_are_skipped_with_a_reason_when_the_org_chose_so(w: World) -> None:
    w.connect("org1")
    _sync(w, "p1", title="Engineer")
    converted = org(w).convert_lead(str(_lead(w, "p1")["Id"]))
    r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": {"converted_leads": "skip"}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["converted_leads"] == "skip"
    w.person("p1", title="CTO")
    w.drain()
    latest = w.operations(person_id="p1")[0]
    assert latest["status"] == "skipped"
    assert "converted" in latest["reason"] and "skips converted leads" in latest["reason"]
    contact = org(w).store.get("Contact", str(converted["ConvertedContactId"]))
    assert contact["Title"] == "Engineer", "the contact is not written"
    assert calls(w, UPDATE) == 1, "only the lead's update, refused as converted"
    assert len(leads(w)) == 1


def test_an_unmatched_owner_is_left_to_the_org_and_a_matched_one_is_set(w: World) -> None:
    w.connect("org1")
    _sync(w, "p1")
    w.person("p2")
    w.unlock("org1", "p2", "u-member")
    w.drain()
    assert _lead(w, "p1")["OwnerId"] == w.crm_admin_id
    assert _lead(w, "p2")["OwnerId"] == org(w).admin_id
    assert calls(w, "GET /query") == 1, "one owner list, cached for the second run"


def test_connection_settings_are_checked_before_anything_is_saved(w: World) -> None:
    w.connect("org1")
    before = w.status()["settings"]
    for bad in ({"converted_leads": "delete"}, {"api_usage_share": 5}, {"colour": "blue"}):
        r = w.api.patch("/api/v1/orgs/org1/connection", json={"settings": bad})
        assert r.status_code == 422, bad
        assert w.status()["settings"] == before


def test_an_active_lead_assignment_rule_does_not_re_own_the_leads_crmsync_assigns(
    w: World,
) -> None:
    """Salesforce runs the active assignment rule on every lead write that does not say
    ``Sforce-Auto-Assign: FALSE``; crmsync says it, so its owner stays, on create and update."""
    elsewhere = org(w).add_user("queue-keeper@acme.test", "Queue", "Keeper")
    org(w).set_assignment_rule(elsewhere)
    w.connect("org1")
    _sync(w, "p1")
    assert _lead(w, "p1")["OwnerId"] == w.crm_admin_id
    _sync(w, "p1", title="Chief Engineer")
    lead = _lead(w, "p1")
    assert (lead["Title"], lead["OwnerId"]) == ("Chief Engineer", w.crm_admin_id)


def test_a_person_page_links_the_lead_then_the_contact_it_was_converted_into(w: World) -> None:
    """``Connector.record_url`` builds the person's link: the Lead's page in the org's own
    instance, and once the lead is converted and synced again, the Contact's."""
    w.connect("org1")
    _sync(w, "p1", title="Engineer")
    lead_id = str(_lead(w, "p1")["Id"])
    url = w.api.get("/api/v1/orgs/org1/people/p1/sync").json()["crm_url"]
    assert url.startswith("http") and url.endswith(f"/lightning/r/Lead/{lead_id}/view")

    contact_id = str(org(w).convert_lead(lead_id)["ConvertedContactId"])
    w.person("p1", title="CTO")
    w.drain()
    url = w.api.get("/api/v1/orgs/org1/people/p1/sync").json()["crm_url"]
    assert url.endswith(f"/lightning/r/Contact/{contact_id}/view")
