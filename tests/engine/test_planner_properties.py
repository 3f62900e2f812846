"""Property: whatever happens between writes, what crmsync believes it wrote equals what the
CRM holds for every field the app owns (a CRM that applies each plan faithfully)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crmsync.domain.mapping import APP, FieldMap, FieldMaps, ValueKind
from crmsync.engine.planner import after_write, desired_fields, plan_write

MAPPINGS = FieldMaps.of(
    [
        FieldMap("person_id", "pid", ValueKind.KEY, APP, identity=True),
        FieldMap("profile_url", "purl", ValueKind.TEXT, APP, identity=True),
        FieldMap("title", "title", ValueKind.TEXT, APP),
        FieldMap("company", "company", ValueKind.TEXT, APP),
        FieldMap("owner", "owner", ValueKind.USER, APP),
    ]
)
USERS = {"u1@acme.test": "o1", "u2@acme.test": "o2"}
texts = st.one_of(st.none(), st.sampled_from(["", "a", "b", "c"]))
step = st.tuples(
    st.fixed_dictionaries({"title": texts, "company": texts, "profile_url": texts}),
    st.one_of(st.none(), st.sampled_from(["u1@acme.test", "U2@acme.test", "u3@acme.test"])),
    st.booleans(),  # preserve manual edits
    st.booleans(),  # the write lands (False: lost, retried later)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=12))
def test_written_state_tracks_the_crm(steps: list[Any]) -> None:
    crm: dict[str, Any] = {}
    written: dict[str, Any] | None = None
    for values, owner, preserve, lands in steps:
        desired = desired_fields({"person_id": "p", "owner": owner, **values}, MAPPINGS, USERS)
        plan = plan_write(desired, MAPPINGS, written, preserve)
        if plan.unchanged or not lands:
            continue
        crm.update(plan.send)
        written = after_write(written, plan.send)
        assert {k: v for k, v in crm.items()} == written
        if not preserve:
            again = plan_write(desired, MAPPINGS, written, preserve)
            assert again.unchanged, "after a landed write nothing is left to send"
    if written is not None:
        assert written["pid"] == "p"
