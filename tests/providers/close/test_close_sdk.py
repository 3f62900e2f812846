"""Close's official Python client (closeio) against the served emulator.

The client is used as a Close customer would, with one change: ``Client.base_url`` (a plain
attribute, read on every request) points at the emulator on a loopback port instead of
``https://api.close.com/api/v1/``. It authenticates with the emulator's API key. Expected
results are read from the emulator's store with Close's own field names (``emails``,
``custom.cf_…``, ``lead_id``), never through the connector's mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from closeio_api import APIError, Client, ValidationError

from crmsync.cli.serving import ServerThread
from crmsync.providers.close.emulator import CloseEmulator, CloseEmulatorConfig, create_app


@dataclass
class Served:
    api: Client
    emulator: CloseEmulator

    @property
    def org_id(self) -> str:
        return self.emulator.organization_id

    def rows(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every stored contact with its lead, as Close renders them."""
        return self.emulator.store.rows(self.org_id)

    def refused(self, path: str, params: dict[str, Any]) -> ValidationError:
        with pytest.raises(ValidationError) as caught:
            self.api.get(path, params=params)
        return caught.value


@pytest.fixture
def served() -> Iterator[Served]:
    config = CloseEmulatorConfig(rate_limit_enabled=False)
    app = create_app(config, served=True)
    server = ServerThread(app).start()
    try:
        api = Client(config.api_key, max_retries=1)
        api.base_url = f"{server.url}/api/v1/"
        yield Served(api, app.state.emulator)
    finally:
        server.stop()


def _person(api: Client, field_id: str, person_id: str, name: str, email: str) -> dict[str, Any]:
    contact = {"name": name, "emails": [{"email": email}], f"custom.{field_id}": person_id}
    lead: dict[str, Any] = api.post("lead", data={"name": f"{name} Co", "contacts": [contact]})
    return lead


@pytest.fixture
def people(served: Served) -> dict[str, Any]:
    field = served.api.post("custom_field/contact", data={"name": "Acme Person ID", "type": "text"})
    ada = _person(served.api, field["id"], "p1", "Ada Lovelace", "ada@example.com")
    grace = _person(served.api, field["id"], "p2", "Grace Hopper", "grace@example.com")
    return {"field": field["id"], "ada": ada, "grace": grace}


def _ids(answer: dict[str, Any]) -> list[str]:
    return [lead["id"] for lead in answer["data"]]


def test_lead_query_finds_leads_by_custom_field_email_and_text(
    served: Served, people: dict[str, Any]
) -> None:
    field_id = people["field"]
    holding_p1 = {
        lead["id"] for contact, lead in served.rows() if contact.get(f"custom.{field_id}") == "p1"
    }
    with_email = {
        lead["id"]
        for contact, lead in served.rows()
        if "grace@example.com" in [e["email"] for e in contact["emails"]]
    }
    assert holding_p1 == {people["ada"]["id"]} and with_email == {people["grace"]["id"]}
    for query in (
        '"custom.Acme Person ID" = "p1"',
        '"custom.Acme Person ID":"p1"',
        f'custom.{field_id}:"p1"',
        f"custom.{field_id}:p1",
    ):
        answer = served.api.get("lead", params={"query": query})
        assert (set(_ids(answer)), answer["total_results"]) == (holding_p1, 1), query
    assert set(_ids(served.api.get("lead", params={"query": "email:grace@example.com"}))) == (
        with_email
    )
    assert _ids(served.api.get("lead", params={"query": "lovelace"})) == [people["ada"]["id"]]
    assert _ids(served.api.get("lead", params={"query": "hopper email:ada@example.com"})) == []
    # the closeio README's own example form: a custom field, the status, a sort
    readme = '"custom.Acme Person ID":"p2" status:"Potential" sort:updated'
    answer = served.api.get("lead", params={"query": readme, "_fields": "id,status_label"})
    assert answer["data"] == [{"id": people["grace"]["id"], "status_label": "Potential"}]
    assert served.api.get("lead", params={"query": 'status:"Bad Fit"'})["data"] == []


def test_lead_query_refuses_what_it_cannot_evaluate(served: Served, people: dict[str, Any]) -> None:
    for query in (
        'custom.Nope:"x"',
        "name:Ada OR name:Grace",
        "-email:ada@example.com",
        "date_created > 2020-01-01",
        "opportunities:1",
        "lovel*",
        'name:"Ada',
        "(name:Ada)",
    ):
        error = served.refused("lead", {"query": query})
        assert error.response.status_code == 400, query
        assert error.response.json()["errors"] == [], query
        assert list(error.field_errors) == ["query"], query
    error = served.refused("lead", {"email": "ada@example.com"})
    assert list(error.field_errors) == ["email"]


def test_contacts_are_listed_by_lead_id(served: Served, people: dict[str, Any]) -> None:
    ada = people["ada"]["id"]
    served.api.post("contact", data={"lead_id": ada, "name": "Byron"})
    expected = [contact["id"] for contact, lead in served.rows() if contact["lead_id"] == ada]
    answer = served.api.get("contact", params={"lead_id": ada, "_fields": "id,lead_id"})
    assert [c["id"] for c in answer["data"]] == expected and len(expected) == 2
    assert {c["lead_id"] for c in answer["data"]} == {ada}
    assert served.api.get("contact", params={"lead_id": "lead_nope"})["data"] == []
    error = served.refused("contact", {"query": "name:Byron"})
    assert list(error.field_errors) == ["query"]


def test_lead_fields_statuses_activities_and_the_organization(
    served: Served, people: dict[str, Any]
) -> None:
    source = served.api.post("custom_field/lead", data={"name": "Source", "type": "text"})
    grace = people["grace"]["id"]
    served.api.put(f"lead/{grace}", data={f"custom.{source['id']}": "Website"})
    fields = served.api.get("custom_field/lead")
    assert [(f["id"], f["name"], f["type"]) for f in fields["data"]] == [
        (source["id"], "Source", "text")
    ]
    stored = {lead["id"]: lead.get(f"custom.{source['id']}") for _, lead in served.rows()}
    assert stored == {people["ada"]["id"]: None, grace: "Website"}
    answer = served.api.get("lead", params={"query": 'custom.Source:"website"'})
    assert _ids(answer) == [grace]
    statuses = served.api.get("status/lead")["data"]
    assert [s["label"] for s in statuses][:1] == ["Potential"]
    lead = served.api.get(f"lead/{people['ada']['id']}")
    assert lead["status_id"] == statuses[0]["id"]
    assert {s["organization_id"] for s in statuses} == {served.org_id}

    activity = served.api.get("activity", params={"lead_id": people["ada"]["id"]})["data"]
    assert [(a["_type"], a["lead_id"]) for a in activity] == [("Created", people["ada"]["id"])]
    assert len(served.api.get("activity")["data"]) == 2
    created = served.api.get("activity", params={"lead_id": lead["id"], "_type": "Created"})
    assert len(created["data"]) == 1
    assert served.api.get("activity", params={"lead_id": lead["id"], "_type": "Call"})["data"] == []
    assert list(served.refused("activity", {"_type": "Call"}).field_errors) == ["_type"]
    assert list(served.refused("activity", {"foo": "bar"}).field_errors) == ["foo"]
    later = served.api.get("activity", params={"date_created__gt": "2999-01-01"})
    assert later["data"] == []

    org = served.api.get(f"organization/{served.org_id}")
    assert (org["id"], [s["label"] for s in org["lead_statuses"]]) == (
        served.org_id,
        [s["label"] for s in statuses],
    )
    assert [m["user_email"] for m in org["memberships"]] == [served.emulator.config.admin_email]
    other = next(o for o in served.emulator.store.organizations if o != served.org_id)
    with pytest.raises(APIError) as caught:
        served.api.get(f"organization/{other}")
    assert caught.value.response.status_code == 404


def test_deleting_a_lead_deletes_its_contacts(served: Served, people: dict[str, Any]) -> None:
    ada = people["ada"]["id"]
    assert served.api.delete(f"lead/{ada}") == {}
    assert {lead["id"] for _, lead in served.rows()} == {people["grace"]["id"]}
    with pytest.raises(APIError) as caught:
        served.api.get(f"lead/{ada}")
    assert (caught.value.response.status_code, caught.value.response.json()) == (
        404,
        {"error": "Lead not found."},
    )
    contact_id = people["ada"]["contacts"][0]["id"]
    with pytest.raises(APIError):
        served.api.get(f"contact/{contact_id}")
    found = served.api.post(
        "data/search",
        data={
            "query": {
                "type": "field_condition",
                "field": {"type": "custom_field", "custom_field_id": people["field"]},
                "condition": {"type": "term", "values": ["p1"]},
            }
        },
    )
    assert found["data"] == []
    assert served.api.get("activity", params={"lead_id": ada})["data"] == []


def test_unknown_routes_and_methods_answer_in_closes_shape(served: Served) -> None:
    for call, status in (
        (lambda: served.api.get("no_such_thing"), 404),
        (lambda: served.api.put("status/lead", data={"label": "x"}), 405),
    ):
        with pytest.raises(APIError) as caught:
            call()
        body = caught.value.response.json()
        assert caught.value.response.status_code == status
        assert list(body) == ["error"] and isinstance(body["error"], str)
