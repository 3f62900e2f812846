"""Every connector's default mapping passes the mappings' own rules: saved back unchanged, it
is accepted (against the CRM's catalogue where the connector describes its fields) and changes
nothing, so an admin's first save of an untouched mapping never fails."""

from __future__ import annotations

from tests.support.mappings import current, put
from tests.support.world import World


def test_the_default_mapping_saved_back_is_accepted_and_changes_nothing(team: World) -> None:
    team.connect("org1")
    fields = current(team)
    assert [f["app_field"] for f in fields][:2] == ["person_id", "crm_record_id"]
    r = put(team, fields)
    assert r.status_code == 200, r.text
    assert r.json()["changes"] == []
    assert current(team) == fields
