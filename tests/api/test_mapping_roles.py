"""Who may change what flows where: an admin of the org (or the host itself); a member, a
disabled admin or another org's user may only read, and a refused change changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from crmsync.db.tables import User
from tests.support.mappings import FIELDS, MAPPINGS, current, declare, put, row, stored
from tests.support.world import World


@pytest.fixture
def linked(team: World) -> World:
    """org1 connected, with an admin (``u-boss``) besides its member (``u-member``)."""
    user = {"id": "u-boss", "email": "boss@acme.test", "role": "admin"}
    assert team.api.post("/api/v1/orgs/org1/users", json=user).status_code == 201
    team.connect("org1")
    return team


def _title_to_crm(w: World) -> list[dict[str, object]]:
    fields = current(w)
    row(fields, "title")["canonical"] = "crm"
    return fields


def test_an_admin_changes_the_mappings(linked: World) -> None:
    r = put(linked, _title_to_crm(linked), changed_by="u-boss")
    assert r.status_code == 200, r.text
    assert row(current(linked), "title")["canonical"] == "crm"


def test_a_member_reads_the_mappings_but_cannot_change_them(linked: World) -> None:
    before = stored(linked)
    r = put(linked, _title_to_crm(linked), changed_by="u-member")
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == (
        "only an admin of organisation 'org1' can change its mappings; 'u-member' is a member"
    )
    assert stored(linked) == before
    assert linked.api.get(MAPPINGS).status_code == 200


def test_a_disabled_admin_cannot_change_the_mappings(linked: World) -> None:
    with linked.rt.db.session() as session:
        session.execute(update(User).where(User.id == "u-boss").values(disabled=True))
    r = put(linked, _title_to_crm(linked), changed_by="u-boss")
    assert r.status_code == 403 and "'u-boss' is disabled" in r.text


def test_another_orgs_user_is_unknown_here(linked: World) -> None:
    r = put(linked, _title_to_crm(linked), changed_by="u-other")
    assert r.status_code == 404 and "has no user 'u-other'" in r.text


def test_a_member_cannot_declare_fields_and_an_admin_can(linked: World) -> None:
    score = {"name": "score", "label": "Score", "type": "number"}
    r = declare(linked, score, changed_by="u-member")
    assert r.status_code == 403 and "can change its fields" in r.text
    assert [f for f in linked.api.get(FIELDS).json() if f["custom"]] == []
    r = declare(linked, score, changed_by="u-boss")
    assert r.status_code == 200, r.text
    assert [f["name"] for f in r.json() if f["custom"]] == ["score"]
