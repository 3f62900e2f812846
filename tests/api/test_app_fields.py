"""The org's app fields: the person's, then the custom ones the host declares; a custom field
a mapping uses keeps its type and options until it is unmapped."""

from __future__ import annotations

from typing import Any

import pytest

from crmsync.engine.contacts import contact_values
from tests.support.mappings import FIELDS, current, declare, hubspot_property, put
from tests.support.world import World

RATING = {"name": "rating", "label": "Rating", "type": "picklist", "options": ["Hot", "Cold"]}


def test_the_person_fields_are_every_field_the_engine_maps(team: World) -> None:
    r = team.api.get(FIELDS)
    assert r.status_code == 200, r.text
    names = {f["name"] for f in r.json()}
    person = {"person_id": "p", "profile_url": None, "emails": [], "phones": []}
    values = contact_values(
        person
        | dict.fromkeys(
            (
                "first_name",
                "last_name",
                "company",
                "title",
                "city",
                "state",
                "zip",
                "country",
                "linkedin_url",
            )
        ),
        None,
        "{person_id}",
    )
    assert names == set(values) | {"crm_record_id"}
    several = {f["name"]: f["why"] for f in r.json() if not f["mappable"]}
    assert set(several) == {"emails", "phones"}


def test_declared_fields_follow_the_person_fields(team: World) -> None:
    r = declare(team, RATING, {"name": "score", "label": "Score", "type": "number"})
    assert r.status_code == 200, r.text
    custom = [f for f in r.json() if f["custom"]]
    assert [(f["name"], f["type"], f["options"]) for f in custom] == [
        ("rating", "picklist", ["Hot", "Cold"]),
        ("score", "number", []),
    ]
    assert team.api.get(FIELDS).json() == r.json()


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("person_field", {"name": "title", "label": "T", "type": "text"}, "'title' is a person field"),
    (
        "no_options",
        {"name": "tier", "label": "T", "type": "picklist"},
        "a picklist needs its options",
    ),
    (
        "options_on_text",
        {"name": "tier", "label": "T", "type": "text", "options": ["a"]},
        "only a picklist has options",
    ),
    ("a_user", {"name": "boss", "label": "B", "type": "user"}, "cannot be of type user"),
    (
        "option_twice",
        {"name": "tier", "label": "T", "type": "picklist", "options": ["a", "a"]},
        "an option is listed twice",
    ),
]


@pytest.mark.parametrize(("field", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_declaration_is_refused_and_changes_nothing(
    team: World, field: dict[str, Any], message: str
) -> None:
    assert declare(team, RATING).status_code == 200
    before = team.api.get(FIELDS).json()
    r = declare(team, field)
    assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert team.api.get(FIELDS).json() == before


def test_a_name_declared_twice_is_refused(team: World) -> None:
    r = declare(team, RATING, RATING)
    assert r.status_code == 422 and "'rating' is declared twice" in r.text


def test_a_badly_named_field_is_refused_by_the_schema(team: World) -> None:
    r = declare(team, {"name": "Lead Score", "label": "S", "type": "number"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "name"


@pytest.fixture
def mapped(team: World) -> World:
    team.connect("org1")
    hubspot_property(team, "acme_rating", "enumeration", "select", ("Hot", "Warm", "Cold"))
    assert declare(team, RATING).status_code == 200
    fields = [
        *current(team),
        {"app_field": "rating", "crm_field": "acme_rating", "canonical": "crm"},
    ]
    assert put(team, fields).status_code == 200
    return team


def test_a_mapped_field_cannot_be_removed_or_retyped_but_may_be_relabelled(mapped: World) -> None:
    r = declare(mapped)
    assert r.status_code == 422
    assert "'rating' is mapped: remove its mapping before the field" in r.text
    r = declare(mapped, RATING | {"options": ["Hot"]})
    assert r.status_code == 422 and "before changing its type or options" in r.text
    r = declare(mapped, RATING | {"label": "Temperature"})
    assert r.status_code == 200, r.text
    assert [f["label"] for f in r.json() if f["custom"]] == ["Temperature"]


def test_an_unmapped_field_can_be_removed(mapped: World) -> None:
    fields = [f for f in current(mapped) if f["app_field"] != "rating"]
    assert put(mapped, fields).status_code == 200
    r = declare(mapped)
    assert r.status_code == 200 and [f for f in r.json() if f["custom"]] == []
