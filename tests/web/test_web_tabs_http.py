"""The connected CRM's tabs over plain HTTP: Sync preferences (interval, Sync now, Full sync),
Mappings (view, save, refused sets that change nothing, catalogue refresh) and Logs, for an
admin and a member."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.world import World, world
from tests.web.test_web_server import signed_in
from tests.web.test_web_truth import _team

PAGE = "/settings/integrations"
MAPPINGS = "/settings/integrations/mappings"


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(f"sqlite:///{tmp_path}/crmsync.db", tmp_path, "hubspot") as instance:
        _team(instance)
        instance.connect("org1")
        yield instance


def _mappings(w: World) -> dict[str, Any]:
    answer: dict[str, Any] = w.api.get("/api/v1/orgs/org1/connection/mappings").json()
    return answer


def _saved(w: World) -> list[tuple[str, str, str, str]]:
    """What is mapped (not whether the CRM's catalogue was read meanwhile)."""
    return [
        (f["app_field"], f["crm_field"], f["canonical"], f["kind"])
        for obj in _mappings(w)["objects"]
        for f in obj["fields"]
    ]


def _form(w: World, token: str, change: dict[str, dict[str, str]] | None = None) -> list[Any]:
    """The saved set as the Mappings form sends it, with ``change`` applied per app field
    (``{"drop": ...}`` leaves the row out), plus extra rows under the key ``"+"``."""
    change = change or {}
    pairs: list[tuple[str, str]] = [("csrf_token", token)]
    for obj in _mappings(w)["objects"]:
        rows = [*obj["fields"], *change.get("+", {}).values()]  # type: ignore[arg-type]
        for row in rows:
            row = {**row, **change.get(row["app_field"], {})}
            if row.get("drop"):
                continue
            pairs += [
                ("obj", obj["local_object"]),
                ("app_field", row["app_field"]),
                ("crm_field", row["crm_field"]),
                ("canonical", row["canonical"]),
                ("kind", row.get("kind", "")),
            ]
    return pairs


def _post(client: TestClient, path: str, pairs: list[Any]) -> Any:
    body = "&".join(f"{k}={v}" for k, v in pairs)  # repeated names, as a browser sends them
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.post(path, content=body.encode(), headers=headers)


def _interval(w: World) -> int:
    with w.rt.db.session() as session:
        return w.connection_row(session).sync_interval_minutes


def test_tabs_are_on_every_page_of_the_connected_crm(w: World) -> None:
    for email in ("admin@acme.test", "member@acme.test"):
        client, _ = signed_in(w, email)
        tabs_of = (
            (PAGE, "sync"),
            (MAPPINGS, "mappings"),
            ("/settings/integrations/test", "test"),
            ("/settings/logs", "logs"),
        )
        for path, tab in tabs_of:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:300])
            tabs = page.text.split('<nav class="tabs"')[1].split("</nav>")[0]
            assert 'aria-label="HubSpot settings"' in tabs
            current = re.findall(r'data-tab="(\w+)" aria-current="page"', tabs)
            assert current == [tab], (path, current)
            assert re.findall(r'data-tab="(\w+)"', tabs) == ["sync", "mappings", "test", "logs"]


def test_the_interval_is_changed_by_an_admin_only_and_checked(w: World) -> None:
    assert _interval(w) == 15
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get(PAGE).text
    assert '<option value="15" selected>Every 15 minutes</option>' in page
    r = admin.post(PAGE + "/interval", data={"csrf_token": token, "sync_interval_minutes": "60"})
    assert r.status_code == 303
    assert _interval(w) == 60
    page = admin.get(PAGE).text
    assert "Every hour: the CRM is read back that often." in page
    assert '<option value="60" selected>Every hour</option>' in page
    for bad in ("9", "1441", "abc", "", "٣٠", "99999999999999999999"):
        data = {"csrf_token": token, "sync_interval_minutes": bad}
        r = admin.post(PAGE + "/interval", data=data, headers={"X-Requested-With": "fetch"})
        assert r.status_code == 409 and "between 10 minutes and 24 hours" in r.json()["detail"]
        assert _interval(w) == 60, bad
    member, member_token = signed_in(w, "member@acme.test")
    page = member.get(PAGE).text
    assert 'name="sync_interval_minutes" aria-describedby' in page and "Save interval" not in page
    data = {"csrf_token": member_token, "sync_interval_minutes": "30"}
    assert member.post(PAGE + "/interval", data=data).status_code == 403
    assert _interval(w) == 60


def test_sync_now_and_full_sync_queue_a_read(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    r = admin.post(PAGE + "/sync", data={"csrf_token": token})
    assert r.status_code == 303
    assert "A sync is queued" in admin.get(PAGE).text
    r = admin.post(PAGE + "/sync", data={"csrf_token": token, "full": "on"})
    assert "A full sync is queued" in admin.get(PAGE).text
    w.drain()
    assert "Last full sync:" in admin.get(PAGE).text
    member, member_token = signed_in(w, "member@acme.test")
    assert member.post(PAGE + "/sync", data={"csrf_token": member_token}).status_code == 403


def test_a_member_sees_the_mappings_read_only(w: World) -> None:
    member, token = signed_in(w, "member@acme.test")
    page = member.get(MAPPINGS).text
    assert 'id="mapping-table"' in page and 'data-app-field="person_id" data-fixed' in page
    assert "<select" not in page.split('id="mapping-table"')[1]
    assert "Only admins of org1 can change them." in page
    before = _saved(w)
    r = _post(member, MAPPINGS, _form(w, token, {"title": {"drop": "1"}}))
    assert r.status_code == 403
    assert _saved(w) == before


def test_an_invalid_set_shows_every_problem_and_saves_nothing(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    before = _saved(w)
    bad = {
        "person_id": {"crm_field": "email"},  # an ID row cannot change
        "title": {"crm_field": "no_such_field"},
        "+": {"x": {"app_field": "company", "crm_field": "jobtitle", "canonical": "app"}},
    }
    r = _post(admin, MAPPINGS, _form(w, token, bad))
    assert r.status_code == 422, r.text[:500]
    box = r.text.split('id="mapping-problems"')[1].split("</div>")[0]
    assert "Nothing was saved." in box
    problems = re.findall(r"<li>(.*?)</li>", box)
    assert len(problems) >= 3, problems
    assert any("cannot change" in p for p in problems)
    assert any("no_such_field" in p for p in problems)
    assert any("mapped twice" in p or "already mapped" in p for p in problems)
    assert all(p.startswith("Row ") for p in problems), problems
    assert 'class="row-bad"' in r.text  # the rows named are marked
    assert "no_such_field" in r.text.split('id="mapping-table"')[1]  # what was sent, kept
    assert _saved(w) == before
    # the form's own checks: a source of truth that is neither side
    r = _post(admin, MAPPINGS, _form(w, token, {"title": {"canonical": "both"}}))
    assert r.status_code == 422 and "choose app or crm" in r.text
    r = _post(admin, MAPPINGS, [("csrf_token", token), ("obj", "contact")])
    assert r.status_code == 422 and "arrived incomplete" in r.text
    assert _saved(w) == before


def test_a_valid_set_is_saved_and_says_what_the_next_sync_does(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    r = _post(admin, MAPPINGS, _form(w, token, {"title": {"canonical": "crm"}}))
    assert r.status_code == 200, r.text[:500]
    saved = r.text.split('id="mapping-saved"')[1].split("</div>")[0]
    assert "applies from the next sync" in saved and "no record is rewritten now" in saved
    assert "<code>title</code> (now crm)" in saved
    assert "Run a full sync</button>" in saved
    [title] = [f for f in _mappings(w)["objects"][0]["fields"] if f["app_field"] == "title"]
    assert title["canonical"] == "crm"
    # removing a row by its checkbox
    pairs = _form(w, token)
    index = [v for k, v in pairs if k == "app_field"].index("title")
    r = _post(admin, MAPPINGS, [*pairs, ("remove", str(index))])
    assert r.status_code == 200 and "(removed)" in r.text
    fields = [f["app_field"] for f in _mappings(w)["objects"][0]["fields"]]
    assert "title" not in fields and "person_id" in fields


def test_the_fixed_rows_cannot_be_removed(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    before = _saved(w)
    pairs = _form(w, token)
    index = [v for k, v in pairs if k == "app_field"].index("person_id")
    r = _post(admin, MAPPINGS, [*pairs, ("remove", str(index))])
    assert r.status_code == 200  # the remove box of a fixed row is ignored
    assert _saved(w) == before
    r = _post(admin, MAPPINGS, _form(w, token, {"person_id": {"drop": "1"}}))
    assert r.status_code == 422 and "is required and cannot be removed" in r.text
    assert _saved(w) == before


def test_the_catalogue_is_refreshed_on_demand(w: World) -> None:
    admin, token = signed_in(w, "admin@acme.test")
    page = admin.get(MAPPINGS).text
    assert "HubSpot fields to choose from" in page
    r = admin.post(MAPPINGS + "/refresh", data={"csrf_token": token})
    assert r.status_code == 303
    assert re.search(r"Read \d+ fields of contacts from HubSpot\.", admin.get(MAPPINGS).text)
    member, member_token = signed_in(w, "member@acme.test")
    assert member.post(MAPPINGS + "/refresh", data={"csrf_token": member_token}).status_code == 403


def test_without_a_connection_the_tabs_are_not_shown(tmp_path: Path) -> None:
    with world(f"sqlite:///{tmp_path}/c.db", tmp_path, "hubspot") as w:
        _team(w)
        admin, token = signed_in(w, "admin@acme.test")
        assert '<nav class="tabs"' not in admin.get(PAGE).text
        page = admin.get(MAPPINGS)
        assert page.status_code == 200 and "nothing to map yet" in page.text
        r = _post(admin, MAPPINGS, [("csrf_token", token)])
        assert r.status_code == 409 and "No CRM is connected." in r.text
        data = {"csrf_token": token, "sync_interval_minutes": "30"}
        r = admin.post(PAGE + "/interval", data=data, headers={"X-Requested-With": "fetch"})
        assert r.status_code == 409


def test_the_log_shows_imports_and_filters_by_direction_and_entity(w: World) -> None:
    w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": True})
    w.person("p1", first_name="Grace", last_name="Hopper", title="Admiral")
    w.unlock("org1", "p1", "u-admin")
    w.drain()
    w.sync_back()  # takes in what the push wrote: no change
    (record,) = w.records_by_person()["p1"]
    w.harness.manual_edit(record.crm_id, "title", "Commodore")
    w.sync_back()
    member, _ = signed_in(w, "member@acme.test")
    exports = member.get("/settings/logs").text
    assert (
        'id="filter-direction"' in exports
        and '<option value="contact">Contacts</option>' in exports
    )
    assert exports.count('<tr id="op-') == 1
    imports = member.get("/settings/logs?direction=import").text
    rows = re.findall(r'<tr id="import-\d+" data-kind="(\w+)">', imports)
    assert rows == ["updated"], rows
    assert "<code>title</code>: Commodore" in imports and "Grace Hopper" in imports
    assert "1 import: each a change HubSpot made" in imports
    assert '<tr id="op-' not in imports
    for query in ("direction=import&entity=deal", "direction=import&person=p-none"):
        assert "No imports match these filters." in member.get(f"/settings/logs?{query}").text
    assert "No operations match these filters." in member.get("/settings/logs?entity=deal").text
    for query in ("direction=sideways", "direction=import&entity=contact&person=p1"):
        page = member.get(f"/settings/logs?{query}")
        assert page.status_code == 200
    assert member.get("/settings/logs?direction=sideways").text.count('<tr id="op-') == 1
