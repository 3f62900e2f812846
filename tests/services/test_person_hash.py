"""A person's content hash is stored: it decides whether a PUT re-syncs them, so the same
values must hash to the same digest as every earlier release stored (pinned below)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crmsync.api.schemas import PersonIn
from crmsync.db.tables import Person
from crmsync.domain.commands import PersonRecord
from crmsync.services import people
from tests.support.world import World, world

# Digests the content hash gave before the services took domain commands (PersonIn dumps).
ADA = {
    "first_name": " Ada ",
    "last_name": "Lovelace",
    "emails": ["ada@example.com", "a.l@example.org"],
    "phones": ["+44 20 7946 0000"],
    "company": "Analytical Engines",
    "title": "Countess",
    "city": "London",
    "state": "Greater London",
    "zip": "W1",
    "country": "UK",
    "linkedin_url": "https://www.linkedin.com/in/ada",
    "profile_url": "https://app.example/p/ada",
}
ADA_HASH = "8434b4f2f8d0d655785923164683ba99a97611a70b4e78321a4377f40d13bbf3"
ZOE = {"first_name": "Zoë", "last_name": "Ørsted", "company": 'Café "Ü" & Co'}
ZOE_HASH = "798bb0bda6b4b4b12f8d40f0a5bf976b584550f10f3dd2b23c10d1141a3d62c4"
EMPTY_HASH = "bce00dfb1acef3c25141dab402535b8a305703bdd9edf4788570908966eb8bc9"


@pytest.fixture
def w(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    with world(sqlite_url, tmp_path, "hubspot") as instance:
        yield instance


def _stored_hash(w: World, person_id: str) -> str:
    with w.rt.db.session() as session:
        return session.get_one(Person, person_id).content_hash


@pytest.mark.parametrize(("fields", "digest"), [(ADA, ADA_HASH), (ZOE, ZOE_HASH), ({}, EMPTY_HASH)])
def test_put_person_stores_the_hash_earlier_releases_stored(
    w: World, fields: dict[str, Any], digest: str
) -> None:
    r = w.api.put("/api/v1/people/p1", json=fields)
    assert r.status_code == 200, r.text
    assert _stored_hash(w, "p1") == digest


def test_a_batch_item_hashes_like_the_single_person_put(w: World) -> None:
    """The batch item's ``person_id`` is not content: it does not change the digest."""
    r = w.api.put("/api/v1/people", json=[{"person_id": "p2", **ZOE}])
    assert r.status_code == 200, r.text
    assert _stored_hash(w, "p2") == ZOE_HASH


def test_a_changed_value_changes_the_hash(w: World) -> None:
    """The pins above can fail: a different value stores a different digest."""
    assert w.api.put("/api/v1/people/p3", json={**ZOE, "title": "CTO"}).status_code == 200
    assert _stored_hash(w, "p3") != ZOE_HASH


def test_the_record_hashes_to_the_pinned_digest_without_the_api() -> None:
    """The service's own hash of a record, as the CLI or a benchmark would build it."""
    record = PersonRecord(
        **{
            **ADA,
            "first_name": "Ada",
            "emails": tuple(ADA["emails"]),
            "phones": ("+44 20 7946 0000",),
        }
    )
    assert people.content_hash(record) == ADA_HASH
    assert people.content_hash(PersonRecord()) == EMPTY_HASH


def test_every_field_of_the_api_body_is_a_field_of_the_record() -> None:
    """A field added to the API's body but not to the record would be dropped silently."""
    record_fields = [f.name for f in dataclasses.fields(PersonRecord)]
    assert sorted(PersonIn.model_fields) == sorted(record_fields)
    assert dataclasses.asdict(PersonIn.model_validate(ADA).command())["zip"] == "W1"
