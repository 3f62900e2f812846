"""Property: any sequence of unlocks, refreshes, option toggles and CRM faults ends with
exactly one CRM record per unlocked person, holding the values the rules say it should.

The model: a person's record is created with the values current when it is first written;
later a refresh is applied when manual edits are not preserved at that moment, and held back
when they are. Writes happen only when the engine runs ("drain")."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.world import World

PEOPLE = ["a", "b"]
FAULTS = {"500": 0.15, "timeout_after": 0.15, "reset": 0.05}

actions = st.lists(
    st.one_of(
        st.tuples(st.just("unlock"), st.sampled_from(PEOPLE)),
        st.tuples(st.just("refresh"), st.sampled_from(PEOPLE), st.integers(0, 2)),
        st.tuples(st.just("preserve"), st.booleans()),
        st.tuples(st.just("faults"), st.booleans()),
        st.tuples(st.just("drain")),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@example(steps=[("unlock", "a"), ("drain",), ("preserve", True), ("refresh", "a", 1), ("drain",)])
@example(
    steps=[
        ("unlock", "a"),
        ("faults", True),
        ("refresh", "a", 2),
        ("unlock", "b"),
        ("drain",),
        ("preserve", True),
        ("preserve", False),
        ("refresh", "b", 1),
    ]
)
@example(steps=[("refresh", "a", 1), ("preserve", True), ("unlock", "a"), ("refresh", "a", 2)])
@given(steps=actions)
def test_any_history_ends_with_one_correct_record_per_unlocked_person(steps: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        w = World(f"sqlite:///{tmp}/db.sqlite", Path(tmp), "hubspot")
        try:
            _play(w, steps)
        finally:
            w.close()


def _play(w: World, steps: list[Any]) -> None:
    w.org("org1", {"u1": "owner@acme.test"})
    owner = w.harness.add_user("owner@acme.test", "Olive", "Owner")
    w.connect("org1")
    title = {p: "t0" for p in PEOPLE}
    for p in PEOPLE:
        w.person(p, title="t0")
    unlocked: set[str] = set()
    expected: dict[str, str] = {}  # what the CRM should hold, per created person
    queued: set[str] = set()
    preserve = False

    def drain() -> None:
        w.drain(rounds=200)
        for p in sorted(queued):
            if p not in expected or not preserve:
                expected[p] = title[p]
        queued.clear()

    for step in steps:
        kind = step[0]
        if kind == "unlock":
            w.unlock("org1", step[1], "u1")
            unlocked.add(step[1])
            queued.add(step[1])
        elif kind == "refresh":
            person, value = step[1], f"t{step[2]}"
            if title[person] != value:
                title[person] = value
                w.person(person, title=value)
                if person in unlocked:
                    queued.add(person)
        elif kind == "preserve":
            drain()  # the toggle applies to work processed after it
            preserve = step[1]
            w.api.patch("/api/v1/orgs/org1/connection", json={"preserve_manual_edits": preserve})
        elif kind == "faults":
            w.harness.set_faults(FAULTS if step[1] else {}, seed=len(queued))
        else:
            drain()
    w.harness.set_faults({})
    drain()
    records = w.records_by_person()
    assert sorted(records) == sorted(unlocked)
    for person, found in records.items():
        assert len(found) == 1, f"{person} duplicated"
        assert found[0].values["title"] == expected[person], person
        assert found[0].owner_id == owner
