"""PUT /api/v1/people: up to 1,000 people in one transaction, each as PUT /people/{id} would.

On SQLite and on PostgreSQL (the ``db_url`` fixture), like the rest of tests/api.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from crmsync.db.tables import Base, Person, WorkItem
from crmsync.services import people
from tests.support.world import World


def _body(person_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": [f"{person_id}@example.com"],
        "company": "Analytical Engines",
        "title": "Engineer",
        **fields,
    }


def _put(w: World, items: list[dict[str, Any]]) -> dict[str, Any]:
    r = w.api.put("/api/v1/people", json=items)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def _snapshot(w: World) -> dict[str, list[str]]:
    """Every row of every table: equal before and after means nothing was written at all."""
    with w.rt.db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def _pending(w: World) -> list[tuple[str, str, str]]:
    """(org, person, lane) of every pending work item."""
    with w.rt.db.session() as session:
        org_of = {w.connection(org).id: org for org in ("org1", "org2")}
        items = session.scalars(select(WorkItem).where(WorkItem.status == "pending"))
        return sorted((org_of[i.connection_id], i.local_id, i.lane) for i in items)


@pytest.fixture
def synced(team: World) -> World:
    """org1 and org2 connected; p1 unlocked by both, p2 by org1 only, p3 by nobody; synced."""
    team.connect("org1")
    team.connect("org2")
    counts = _put(team, [_body("p1"), _body("p2"), _body("p3")])
    assert counts == {
        "accepted": 3,
        "created": 3,
        "changed": 0,
        "unchanged": 0,
        "queued": 0,
        "orgs_notified": 0,
    }
    team.unlock("org1", "p1", "u-admin")
    team.unlock("org2", "p1", "u-other")
    team.unlock("org1", "p2", "u-member")
    team.drain()
    team.kicks.clear()
    return team


def test_new_people_are_stored_as_the_single_route_stores_them(team: World) -> None:
    first = _body("a.1:x@y", first_name="  Ada ", emails=["ada@example.com"])
    counts = _put(team, [first, _body("b2", phones=["555"])])
    assert (counts["created"], counts["queued"]) == (2, 0)
    with team.rt.db.session() as session:
        a = session.get_one(Person, "a.1:x@y")
        assert (a.first_name, a.emails, a.title) == ("Ada", ["ada@example.com"], "Engineer")
    # The same values through PUT /people/{id}: the same content hash, so nothing changed.
    body = {k: v for k, v in _body("b2", phones=["555"]).items() if k != "person_id"}
    r = team.api.put("/api/v1/people/b2", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is False
    assert team.kicks == []


def test_unchanged_people_queue_nothing(synced: World) -> None:
    before = _snapshot(synced)
    counts = _put(synced, [_body("p1"), _body("p2"), _body("p3")])
    assert (counts["unchanged"], counts["changed"], counts["queued"]) == (3, 0, 0)
    assert counts["orgs_notified"] == 0
    assert _pending(synced) == []
    assert synced.kicks == []
    assert _snapshot(synced) == before


def test_changes_fan_out_as_refreshes_to_every_org_that_unlocked_them(synced: World) -> None:
    counts = _put(
        synced,
        [
            _body("p3", title="Nobody unlocked me"),
            _body("p2", title="CTO"),
            _body("p1", title="CEO"),
            _body("p1-new"),
            _body("p4"),
        ],
    )
    assert counts == {
        "accepted": 5,
        "created": 2,
        "changed": 3,
        "unchanged": 0,
        "queued": 3,
        "orgs_notified": 2,
    }
    assert _pending(synced) == [
        ("org1", "p1", "refresh"),
        ("org1", "p2", "refresh"),
        ("org2", "p1", "refresh"),
    ]
    connections = {synced.connection("org1").id, synced.connection("org2").id}
    assert sorted(synced.kicks) == sorted(connections)  # after the commit, once each
    synced.drain()
    titles = {r.person_id: r.values.get("title") for r in synced.harness.records() if r.person_id}
    assert titles == {"p1": "CEO", "p2": "CTO"}  # one record each, shared by both orgs' CRM
    assert _pending(synced) == []


def test_a_change_is_not_queued_on_a_disconnected_org(synced: World) -> None:
    assert synced.api.delete("/api/v1/orgs/org2/connection").status_code == 200
    counts = _put(synced, [_body("p1", title="CEO")])
    assert (counts["changed"], counts["queued"], counts["orgs_notified"]) == (1, 1, 1)
    assert _pending(synced) == [("org1", "p1", "refresh")]


def test_a_full_batch_of_1000_is_accepted(team: World) -> None:
    items = [_body(f"p{i:04d}") for i in range(1000)]
    assert _put(team, items)["created"] == 1000
    items[500]["title"] = "Changed"
    counts = _put(team, items)
    assert (counts["changed"], counts["unchanged"]) == (1, 999)


# -- bad input: a 422 that says why, and nothing written -------------------------------------------
BAD_BATCHES: dict[str, tuple[Any, str]] = {
    "duplicate id": (
        [_body("p1", title="CEO"), _body("p9"), _body("p1", title="CTO")],
        "person 'p1' is given twice (items 0 and 2)",
    ),
    "too many": ([_body(f"n{i}") for i in range(1001)], "at most 1000 items"),
    "empty": ([], "at least 1 item"),
    "not a list": (_body("p9"), "Input should be a valid list"),
    "bad email": ([_body("p9"), _body("p1", emails=["ada.example.com"])], "not an email"),
    "unknown field": ([_body("p9"), _body("p1", nickname="Ada")], "Extra inputs"),
    "too long": ([_body("p9"), _body("p1", title="x" * 301)], "at most 300 characters"),
    "missing id": ([_body("p9"), {"first_name": "Ada"}], "Field required"),
    "bad id": ([_body("p9"), _body("semi;colon")], "String should match pattern"),
    "long id": ([_body("p9"), _body("x" * 129)], "String should match pattern"),
    "NUL": ([_body("p9"), _body("p1", city="a\x00b")], "must not contain NUL"),
}


@pytest.mark.parametrize("case", sorted(BAD_BATCHES))
def test_bad_batch_is_422_and_writes_nothing(synced: World, case: str) -> None:
    body, message = BAD_BATCHES[case]
    before = _snapshot(synced)
    r = synced.api.put("/api/v1/people", json=body)
    assert r.status_code == 422, r.text
    assert message in r.text
    assert _snapshot(synced) == before
    assert synced.kicks == []


def test_the_422_names_the_bad_item(synced: World) -> None:
    r = synced.api.put("/api/v1/people", json=[_body("p9"), _body("p1", linkedin_url="ftp://x")])
    assert r.status_code == 422, r.text
    [issue] = r.json()["detail"]
    assert issue["loc"] == ["body", 1, "linkedin_url"]
    assert "not an http(s) URL" in issue["msg"]


# -- a transaction the database rolled back to break a deadlock runs again ---------------------
class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _failing_once(monkeypatch: pytest.MonkeyPatch, sqlstate: str) -> list[int]:
    """upsert_people writes a stray person, then fails like PostgreSQL would, once."""
    real = people.upsert_people
    calls: list[int] = []

    def flaky(session: Session, items: Any) -> people.Upserted:
        calls.append(len(items))
        if len(calls) == 1:
            session.add(Person(person_id="stray", content_hash="x"))
            session.flush()
            raise OperationalError("UPDATE people ...", {}, _PgError(sqlstate))
        return real(session, items)

    monkeypatch.setattr(people, "upsert_people", flaky)
    return calls


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
def test_a_deadlocked_batch_is_rolled_back_and_run_again(
    synced: World, monkeypatch: pytest.MonkeyPatch, sqlstate: str
) -> None:
    calls = _failing_once(monkeypatch, sqlstate)
    counts = _put(synced, [_body("p1", title="CEO"), _body("p5")])
    assert calls == [2, 2]
    assert (counts["changed"], counts["created"], counts["queued"]) == (1, 1, 2)
    with synced.rt.db.session() as session:
        assert session.get(Person, "stray") is None  # the first attempt left nothing
        assert session.get_one(Person, "p1").title == "CEO"
    assert _pending(synced) == [("org1", "p1", "refresh"), ("org2", "p1", "refresh")]


def test_another_database_error_is_not_retried(
    synced: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _failing_once(monkeypatch, "53300")  # too many connections
    before = _snapshot(synced)
    with pytest.raises(OperationalError):
        synced.api.put("/api/v1/people", json=[_body("p1", title="CEO")])
    assert calls == [1]
    assert _snapshot(synced) == before
