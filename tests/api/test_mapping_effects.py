"""What a saved change says the next sync will do, and that saving does nothing else: no
record is queued, no CRM write is made."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from crmsync.db.tables import WorkItem
from tests.support.mappings import current, declare, hubspot_property, put, row
from tests.support.world import World


@pytest.fixture
def linked(team: World) -> World:
    team.connect("org1")
    team.person("p1", title="Admiral", city="Arlington")
    team.unlock("org1", "p1", "u-admin")
    team.drain()
    hubspot_property(team, "acme_headline", "string", "text")
    hubspot_property(team, "acme_rating", "enumeration", "select", ("Hot", "Cold"))
    r = declare(team, {"name": "rating", "label": "R", "type": "picklist", "options": ["Hot"]})
    assert r.status_code == 200, r.text
    return team


def queued(w: World) -> int:
    with w.rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(WorkItem)) or 0)


def test_each_change_says_what_the_next_sync_does_and_nothing_is_written_now(
    linked: World,
) -> None:
    fields: list[dict[str, Any]] = [f for f in current(linked) if f["app_field"] != "city"]
    row(fields, "title")["crm_field"] = "acme_headline"
    row(fields, "company")["canonical"] = "crm"
    row(fields, "owner")["canonical"] = "app"
    fields.append({"app_field": "rating", "crm_field": "acme_rating", "canonical": "crm"})
    writes, items = linked.harness.write_calls(), queued(linked)
    r = put(linked, fields)
    assert r.status_code == 200, r.text
    body = r.json()
    changes = {c["app_field"]: c for c in body["changes"]}
    assert {name: c["change"] for name, c in changes.items()} == {
        "title": "crm_field_changed",
        "company": "now_crm",
        "owner": "now_app",
        "rating": "added",
        "city": "removed",
    }
    assert changes["title"]["effect"].startswith(
        "kept in 'acme_headline' instead of 'jobtitle' from each record's next change in the app"
    )
    assert "crmsync stops writing it" in changes["company"]["effect"]
    assert "written on each record's next change in the app" in changes["owner"]["effect"]
    assert "or for every record with a full sync" in changes["rating"]["effect"]
    assert "no longer written or read" in changes["city"]["effect"]
    assert (
        body["summary"] == "Saved: 5 changes apply from the next sync; no record is rewritten now."
    )
    assert 'POST /api/v1/orgs/{org}/connection/sync with {"full": true}' in body["full_sync"]
    assert (linked.harness.write_calls(), queued(linked)) == (writes, items)
    linked.drain()
    assert linked.harness.write_calls() == writes, "the next run has nothing to write"
